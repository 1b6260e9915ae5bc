"""The README's quick start and its Python lines run as written (the training shortened)."""

import json
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def first_block(language):
    return re.search(rf"^```{language}\n(.*?)^```", README, re.S | re.M)[1]


def test_the_front_page_is_short():
    assert len(README.splitlines()) <= 250


def test_the_python_lines_run(tmp_path):
    images = ("import numpy as np\n"
              "images = np.random.default_rng(0).normal(size=(64, 32, 32, 3)).astype('float32')\n")
    code = first_block("python").replace("epochs=10", "epochs=1")
    assert code != first_block("python")  # the shortening found its target
    check = "\nassert tuple(features.shape) == (64, 128), features.shape\nprint('ok')\n"
    result = subprocess.run([sys.executable, "-c", images + code + check], cwd=tmp_path,
                            env={"PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2",
                                 "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]


@pytest.mark.slow  # a short pretraining through train.py
def test_the_quick_start_command_runs(tmp_path):
    setup, train = first_block("bash").splitlines()[0].split(" && ")
    assert setup == "pip install -r requirements.txt"
    words = shlex.split(train)
    words[words.index("--workdir") + 1] = str(tmp_path / "quickstart")
    words += ["--config.epochs=1", "--config.steps_per_epoch=3", "--config.eval_steps=1",
              "--config.export_saved_model=False"]
    result = subprocess.run([sys.executable, *words[1:]], cwd=REPO, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "quickstart" / "model.keras").exists()
    assert len(json.loads((tmp_path / "quickstart" / "history.json").read_text())["loss"]) == 1
