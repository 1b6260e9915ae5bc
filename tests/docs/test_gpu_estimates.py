"""docs/pretraining.md's GPU and TPU estimates: the table is what bench/gpu_estimates.py makes of
its JSON, the JSON what it computes from the preset cards now, and every config line of the
section is one that train.py accepts."""

import json
import re
import shlex

import pytest

from conftest import REPO, bench_module

PAGE = REPO / "docs" / "pretraining.md"
RECORD = REPO / "bench" / "results" / "gpu_estimates.json"


def _section():
    text = PAGE.read_text()
    start = text.index("## One GPU, eight GPUs or a TPU (estimates)")
    return text[start:text.index("\n## ", start + 1)]


def _commands():
    """The section's `python train.py` commands, as argument lists."""
    block = re.search(r"```bash\n(.*?)```", _section(), re.S).group(1)
    return [shlex.split(command)[2:]
            for command in block.replace("\\\n", " ").splitlines() if command.strip()]


def test_the_table_is_the_recorded_estimates_and_these_follow_from_the_cards():
    estimates = bench_module("gpu_estimates")
    figures = json.loads(RECORD.read_text())["figures"]
    cards = json.loads((REPO / "bench" / "results" / "preset_cards.json").read_text())
    assert figures == json.loads(json.dumps(estimates.estimates(cards["figures"]["cards"]))), (
        "bench/results/gpu_estimates.json is stale: run `python bench/gpu_estimates.py`")
    marker = estimates.MARKER
    table = _section().split(f"<!-- {marker} -->\n")[1].split(f"\n<!-- /{marker} -->")[0]
    assert table == estimates.table(figures)


def test_the_commands_use_the_overrides_of_a_setup():
    setups = json.loads(RECORD.read_text())["figures"]["setups"].values()
    configs = {setup["config"] for setup in setups}
    commands = _commands()
    assert len(commands) == 3
    for arguments in commands:
        overrides = " ".join(a for a in arguments if a.startswith("--config."))
        assert overrides in configs, overrides


@pytest.mark.parametrize("kind", ["command", "setup"])
def test_every_config_line_is_accepted_by_train_py_flags_and_checks(kind):
    from absl import flags
    from ml_collections import config_flags

    from keras_mae.training.checks import check_config

    base = ["--config", str(REPO / "configs" / "imagenet_vit_base.py"), "--workdir", "runs/x"]
    if kind == "command":
        lines = [[str(REPO / a) if a.startswith("configs/") else a for a in arguments]
                 for arguments in _commands()]
    else:
        setups = json.loads(RECORD.read_text())["figures"]["setups"].values()
        lines = [base + setup["config"].split() for setup in setups]
    for arguments in lines:
        argv = ["train.py", *arguments]
        values = flags.FlagValues()
        config_flags.DEFINE_config_file("config", None, "Run config file.", flag_values=values,
                                        sys_argv=argv)  # an unknown field fails in here
        flags.DEFINE_string("workdir", None, "Work directory.", flag_values=values)
        values(argv)
        config = values.config
        check_config(config)
        for override in (a for a in arguments if a.startswith("--config.")):
            path, value = override.removeprefix("--config.").split("=")
            field = config
            for name in path.split("."):
                field = getattr(field, name)
            assert str(field) == value, override
