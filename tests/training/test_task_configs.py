"""Every task from a shipped config: `configs/<file>.py:<task>`, and `--config.task=knn` or
`evaluate` on the config a model was trained with (reduced to the task's fields)."""

import pathlib
import runpy
import subprocess
import sys

import pytest

from keras_mae.errors import InputError
from keras_mae.training.checks import check_fields, field_paths
from keras_mae.training.config import TASK_CONFIGS
from keras_mae.training.task_config import for_task

REPO = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").glob("*.py"))


def shipped(name, *task):
    return runpy.run_path(str(REPO / "configs" / name))["get_config"](*task)


@pytest.mark.parametrize("task", TASK_CONFIGS)
@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_every_shipped_config_gives_every_task_its_own_fields(path, task):
    config = runpy.run_path(str(path))["get_config"](task)
    assert config.task == task
    check_fields(config, TASK_CONFIGS[task]())
    assert set(field_paths(config)) == set(field_paths(TASK_CONFIGS[task]()))


@pytest.mark.parametrize("alias, name, task", [
    ("finetune_cifar10.py", "cifar10.py", "finetune"),
    ("linprobe_cifar10.py", "cifar10.py", "linprobe"),
    ("imagenet_finetune_vit_base.py", "imagenet_vit_base.py", "finetune"),
    ("imagenet_linprobe_vit_base.py", "imagenet_vit_base.py", "linprobe"),
])
def test_a_task_file_is_its_data_sets_config_asked_for_that_task(alias, name, task):
    assert shipped(alias).to_dict() == shipped(name, task).to_dict()
    assert shipped(name).task == "pretrain"


def test_the_cifar10_evaluation_looks_at_whole_32_pixel_images():
    assert shipped("cifar10.py", "evaluate").augment.crop_fraction == 1.0
    assert shipped("imagenet_vit_base.py", "evaluate").augment.crop_fraction == 0.875


def test_task_evaluate_on_a_fine_tuning_config_keeps_the_fields_it_uses():
    config = shipped("finetune_cifar10.py")
    config.task, config.init_checkpoint, config.batch_size = "evaluate", "ft.keras", 64
    reduced = for_task(config, "configs/finetune_cifar10.py")
    assert set(field_paths(reduced)) == set(field_paths(TASK_CONFIGS["evaluate"]()))
    assert (reduced.init_checkpoint, reduced.batch_size) == ("ft.keras", 64)
    assert reduced.augment.crop_fraction == 1.0 and reduced.data.train == "cifar10/train"
    assert tuple(reduced.data.mean) == (0.4914, 0.4822, 0.4465)
    assert reduced.model.preset == "mae_vit_tiny_patch4_32"


def test_task_knn_on_a_linear_probing_config_takes_the_knn_defaults():
    config = shipped("linprobe_cifar10.py")
    config.task = "knn"
    reduced = for_task(config, "configs/linprobe_cifar10.py")
    assert reduced.to_dict() == {**shipped("cifar10.py", "knn").to_dict(), "batch_size": 1024}


def test_a_config_of_its_own_task_is_left_as_it_is():
    config = shipped("cifar10.py", "knn")
    assert for_task(config, "configs/cifar10.py:knn") is config


def test_switching_to_a_training_task_is_refused_naming_the_file_and_the_fix():
    config = shipped("cifar10.py")
    config.task = "finetune"
    with pytest.raises(InputError, match=r"configs/cifar10.py is a pretrain config, .*"
                                         r"--config configs/cifar10.py:finetune"):
        for_task(config, "configs/cifar10.py")


def test_a_misspelt_field_is_still_refused_when_the_task_switches():
    config = shipped("finetune_cifar10.py")
    config.unlock()
    config.augment.crop_fractoin = 0.9
    config.task = "evaluate"
    with pytest.raises(InputError, match="Unknown config field 'augment.crop_fractoin'"):
        for_task(config, "configs/finetune_cifar10.py")


@pytest.mark.parametrize("arguments, message", [
    (["--config", "configs/cifar10.py:evalute"],
     "Unknown task 'evalute'; use one of pretrain, finetune, linprobe, knn, evaluate, e.g. "
     "--config configs/cifar10.py:evaluate."),
    (["--config", "experiments/cifar10/knn.py:evaluate"],
     "experiments/cifar10/knn.py takes no task (its get_config() has no argument): drop "
     "':evaluate', or pass --config.task=knn or evaluate, which any config can switch to."),
    (["--config", "configs/finetune_cifar10.py", "--config.task=knn", "--config.knn.k=10"],
     "configs/finetune_cifar10.py gives a finetune config, which has no field 'knn.k' (a field "
     "of knn): ask the file for the task, e.g. --config configs/finetune_cifar10.py:knn."),
])
def test_train_py_answers_a_task_mistake_in_one_line(arguments, message):
    result = subprocess.run([sys.executable, "train.py", *arguments], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {message}"
    assert "Traceback" not in result.stderr
