"""Command lines start quiet: TensorFlow's own logs hidden unless --verbose; importing the
library changes nothing."""

import logging
import os
import pathlib
import subprocess
import sys

import pytest

from keras_mae import console

REPO = pathlib.Path(__file__).resolve().parents[2]
TENSORFLOW_LINES = ("absl::InitializeLog", "oneDNN custom operations", "cuda")


@pytest.mark.parametrize("argv, expected", [
    (["python", "-m", "keras_mae.export", "--checkpoint", "m.keras"], True),
    (["python", "-m", "keras_mae.visualize"], True),
    (["python", "-m", "keras_mae.data.stats", "my_images"], True),
    (["python", str(REPO / "train.py"), "--config", "configs/quickstart.py"], True),
    (["/venv/bin/python", "/venv/bin/keras-mae-train", "--config", "c.py"], True),
    (["python", "-m", "keras_mae.train"], True),
    (["python", "-m", "pytest", "tests"], False),
    (["python", "my_script.py"], False),
    (["python", "/elsewhere/train.py"], False),  # someone else's train.py
])
def test_only_keras_mae_command_lines_are_quietened(argv, expected):
    assert console.is_command_line(argv) is expected


def record(path, level):
    return logging.LogRecord("absl", level, path, 1, "message", None, None)


def test_tensorflows_info_lines_are_dropped_and_ours_kept():
    assert not console._tensorflow_info(record("/x/site-packages/tensorflow/python/a.py", 20))
    assert not console._tensorflow_info(record("/x/site-packages/keras/src/b.py", 20))
    assert console._tensorflow_info(record("/x/site-packages/tensorflow/python/a.py", 30))
    assert console._tensorflow_info(record(str(REPO / "keras_mae/training/runner.py"), 20))


def test_a_tool_prints_only_its_own_lines_unless_verbose(tmp_path):
    def stderr(*flags):
        return subprocess.run(
            [sys.executable, "-m", "keras_mae.export", "--checkpoint", str(tmp_path / "none.keras"),
             "--output", str(tmp_path / "out"), *flags],
            cwd=REPO, capture_output=True, text=True, timeout=300,
            env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
        ).stderr

    quiet, verbose = stderr(), stderr("--verbose")
    assert quiet.strip().splitlines() == [verbose.strip().splitlines()[-1]]  # just the error
    assert quiet.strip().startswith("error:")
    assert any(line in verbose for line in TENSORFLOW_LINES)
