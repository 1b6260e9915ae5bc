"""The k-NN monitor on unlabelled training images: a small labelled set named by `knn.train` and
`knn.eval` is its bank and its queries, and it measures what the `knn` task measures."""

import json
import shutil

import pytest

from keras_mae.errors import InputError
from keras_mae.training import run_task
from keras_mae.training.config import knn_config, use_cifar10
from keras_mae.training.pretrain import pretrain
from conftest import cifar_config


def flat_copy(folder, destination):
    """The images of a class-per-folder tree, without their classes: one flat folder."""
    destination.mkdir()
    for image in sorted(folder.glob("*/*.jpg")):
        shutil.copyfile(image, destination / f"{image.parent.name}_{image.name}")
    return destination


@pytest.fixture
def unlabelled_config(small_cifar_folder, tmp_path):
    config = cifar_config(small_cifar_folder)
    config.data.train = str(flat_copy(small_cifar_folder / "train", tmp_path / "unlabelled"))
    config.data.eval = str(flat_copy(small_cifar_folder / "test", tmp_path / "unlabelled_eval"))
    config.epochs, config.steps_per_epoch, config.batch_size = 1, 2, 32
    config.num_figure_images = 0
    config.knn.every_epochs, config.knn.bank_size = 1, 0
    return config


@pytest.mark.slow  # a pretraining and a k-NN run: 1-2 minutes
def test_monitor_of_unlabelled_images_uses_the_labelled_set_and_agrees_with_the_knn_task(
        unlabelled_config, small_cifar_folder, tmp_path):
    config = unlabelled_config
    config.knn.train = str(small_cifar_folder / "train")
    config.knn.eval = str(small_cifar_folder / "test")
    _, history = pretrain(config, tmp_path / "pretrain")

    knn = use_cifar10(knn_config())
    knn.model.preset = config.model.preset
    knn.init_checkpoint = str(tmp_path / "pretrain" / "model.keras")
    knn.data.train, knn.data.eval = config.knn.train, config.knn.eval
    knn.batch_size = 32
    run_task(knn, tmp_path / "knn")
    task = json.loads((tmp_path / "knn" / "knn.json").read_text())
    assert history.history["knn_top1"][-1] == pytest.approx(task["knn_top1"], abs=1e-6)
    assert history.history["knn_top1_cls"][-1] == pytest.approx(task["knn_top1_cls"], abs=1e-6)


def test_monitor_of_unlabelled_images_without_a_labelled_set_names_the_fields(
        unlabelled_config, tmp_path):
    with pytest.raises(InputError, match="--config.knn.train and --config.knn.eval"):
        pretrain(unlabelled_config, tmp_path / "run")


def test_a_labelled_set_without_classes_is_refused_by_its_field(
        unlabelled_config, tmp_path):
    unlabelled_config.knn.train = unlabelled_config.data.train  # flat: no classes
    unlabelled_config.knn.eval = unlabelled_config.data.eval
    with pytest.raises(InputError, match="--config.knn.train="):
        pretrain(unlabelled_config, tmp_path / "run")
