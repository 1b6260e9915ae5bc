"""Without --workdir, train.py writes to a folder named after the config file and the task asked
of it, so that a second command (another config, or another task of the same file) never
resumes, or is refused by, the first one's run."""

import subprocess
import sys

import pytest

from keras_mae.train import default_workdir

from conftest import REPO


@pytest.mark.parametrize("config_argument, overrides, expected", [
    ("configs/quickstart.py", {}, "runs/quickstart"),
    ("configs/finetune_cifar10.py", {"batch_size": 64}, "runs/finetune_cifar10"),
    ("configs/cifar10.py:knn", {}, "runs/cifar10-knn"),
    ("configs/finetune_cifar10.py", {"task": "evaluate"}, "runs/finetune_cifar10-evaluate"),
    ("/elsewhere/my.config.py:linprobe", {}, "runs/my.config-linprobe"),
])
def test_each_config_and_task_has_its_own_default(config_argument, overrides, expected):
    assert default_workdir(config_argument, overrides) == expected


@pytest.mark.slow  # a k-NN evaluation of a random encoder on 2,000 images: ~12 s
def test_train_py_says_where_it_writes_and_writes_there(tmp_path):
    for entry in ("train.py", "configs"):
        (tmp_path / entry).symlink_to(REPO / entry)
    result = subprocess.run(
        [sys.executable, "train.py", "--config", "configs/quickstart.py:knn",
         "--config.data.train=validation"], cwd=tmp_path, capture_output=True, text=True,
        timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Work directory: runs/quickstart-knn (--workdir to choose)" in result.stdout
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["quickstart-knn"]
    assert (tmp_path / "runs" / "quickstart-knn" / "knn.json").exists()
