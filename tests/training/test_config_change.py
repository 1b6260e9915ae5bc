"""A command re-run into the work directory of a run resumes it: with a config changed in what
it trains it is refused in one line naming each change (old -> new) and the fix, unless
--allow_config_change; changes to how it runs or what it records pass."""

import json
import subprocess
import sys

import pytest

from keras_mae.errors import InputError
from keras_mae.training.config import default_config, finetune_config
from keras_mae.training.config_change import check_resumed_config

from conftest import REPO


def write_config(workdir, config):
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))


def test_a_changed_schedule_is_refused_naming_old_and_new_values(tmp_path):
    write_config(tmp_path, default_config())
    config = default_config()
    config.optim.base_lr, config.batch_size = 3e-4, 512
    with pytest.raises(InputError) as refused:
        check_resumed_config(config, str(tmp_path), epochs_done=7)
    message = str(refused.value)
    assert "batch_size 4096 -> 512, optim.base_lr 0.00015 -> 0.0003" in message
    assert "7 epoch(s) in" in message and "--allow_config_change" in message
    assert "--workdir" in message and "\n" not in message
    assert "lr schedule" not in message  # said only where the epochs change


def test_more_epochs_are_refused_saying_what_they_do_to_the_schedule(tmp_path):
    write_config(tmp_path, default_config())
    config = default_config()
    config.epochs = 1000
    with pytest.raises(InputError, match=r"epochs 800 -> 1000; the warmup-cosine lr schedule "
                                         r"spans all the epochs: the 800 done followed the "
                                         r"old one"):
        check_resumed_config(config, str(tmp_path), epochs_done=800)


def test_allowed_changes_go_on_and_are_logged(tmp_path, caplog):
    write_config(tmp_path, default_config())
    config = default_config()
    config.epochs = 1000
    with caplog.at_level("WARNING"):
        check_resumed_config(config, str(tmp_path), epochs_done=800, allow=True)
    assert "changed config (--allow_config_change): epochs 800 -> 1000" in caplog.text


def test_how_a_run_executes_and_what_it_records_may_change(tmp_path):
    write_config(tmp_path, default_config())
    config = default_config()
    config.jit_compile, config.steps_per_execution, config.strategy = False, 4, "mirrored"
    config.keep_checkpoints, config.backup_every_steps, config.nan_policy = 2, 100, "skip"
    config.data.eval, config.eval_steps, config.knn.every_epochs = "other", 5, 10
    check_resumed_config(config, str(tmp_path), epochs_done=3)


def test_fields_of_another_version_are_skipped_and_no_config_json_is_no_run(tmp_path):
    check_resumed_config(default_config(), str(tmp_path), epochs_done=3)  # nothing to compare
    old = json.loads(default_config().to_json_best_effort())
    del old["model"]["remat"]  # written before the field existed
    old["retired_field"] = 1
    (tmp_path / "config.json").write_text(json.dumps(old))
    check_resumed_config(default_config(), str(tmp_path), epochs_done=3)
    with pytest.raises(InputError, match='task "pretrain" -> "finetune"'):
        check_resumed_config(finetune_config(), str(tmp_path), epochs_done=3)


@pytest.mark.slow  # three short train.py runs: about a minute
def test_train_py_refuses_a_changed_rerun_and_resumes_it_when_allowed(tmp_path):
    def train(*flags):
        return subprocess.run(
            [sys.executable, "train.py", "--config", "configs/quickstart.py", "--workdir",
             str(tmp_path), "--config.batch_size=16", "--config.steps_per_epoch=2",
             "--config.eval_steps=1", "--config.num_figure_images=0", "--config.jit_compile=False",
             "--config.export_saved_model=False", *flags],
            cwd=REPO, capture_output=True, text=True, timeout=600)

    assert train("--config.epochs=1").returncode == 0
    history = (tmp_path / "history.json").read_text()
    refused = train("--config.epochs=2")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith(
        f"error: {tmp_path} holds a run 1 epoch(s) in, of another config: epochs 1 -> 2;")
    assert (tmp_path / "history.json").read_text() == history  # nothing trained or written
    assert json.loads((tmp_path / "config.json").read_text())["epochs"] == 1
    resumed = train("--config.epochs=2", "--allow_config_change")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((tmp_path / "history.json").read_text())["epoch"] == [1, 2]
    assert json.loads((tmp_path / "config.json").read_text())["epochs"] == 2
