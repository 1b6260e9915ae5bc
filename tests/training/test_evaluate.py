"""Fine-tuning and linear probing of a pretrained encoder on real CIFAR-10, and their pipelines."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_mae import MaskedAutoencoder
from keras_mae.data import from_arrays, from_folder
from keras_mae.data.classification import centre_crop, make_classification_dataset, random_erasing
from keras_mae.convert.weights import model_weights
from keras_mae.errors import InputError
from keras_mae.training import checks
from keras_mae.training.config import finetune_config
from keras_mae.training.evaluate import train_classifier

from conftest import REPO

CIFAR = dict(mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616))


def encoder_weights(model):
    return {path: np.asarray(w) for path, w in model_weights(model).items()
            if path.startswith("backbone/")}


def test_linear_probe_trains_only_a_head_on_the_frozen_encoder(cifar_folder, cifar_run, tmp_path):
    pretrained = cifar_run[1] / "model.keras"
    workdir = tmp_path / "probe"
    result = subprocess.run(
        [sys.executable, "train.py", "--config", "configs/linprobe_cifar10.py",
         "--workdir", str(workdir), f"--config.init_checkpoint={pretrained}",
         f"--config.data.train={cifar_folder / 'train'}", f"--config.data.eval={cifar_folder / 'test'}",
         "--config.model.preset=mae_vit_micro_patch4_32", "--config.batch_size=64",
         "--config.epochs=1", "--config.optim.warmup_epochs=0",
         "--config.optim.base_lr=40",  # LARS steps are trust x |w|: small batches want a large lr
         "--config.export_saved_model=false"],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    probe = keras.models.load_model(workdir / "model.keras")
    assert probe.head_batch_norm and probe.pooling == "cls"
    mae_encoder = encoder_weights(keras.models.load_model(pretrained))
    for path, value in encoder_weights(probe).items():
        np.testing.assert_array_equal(value, mae_encoder[path], err_msg=path)
    assert np.abs(probe.head_norm.moving_mean.numpy()).max() > 0  # statistics were gathered
    history = json.loads((workdir / "history.json").read_text())
    assert history["val_accuracy"][-1] > 0.15, history  # chance: 0.10; measured ~0.19


def test_finetuning_with_the_papers_recipe_moves_the_encoder_and_learns(
        cifar_folder, cifar_run, tmp_path):
    config = finetune_config()
    config.init_checkpoint = str(cifar_run[1] / "model.keras")
    config.model.preset = "mae_vit_micro_patch4_32"
    config.data.source = "folder"
    config.data.train, config.data.eval = str(cifar_folder / "train"), str(cifar_folder / "test")
    config.data.image_size, config.data.num_channels = (32, 32), 3
    config.data.mean, config.data.std = CIFAR["mean"], CIFAR["std"]
    config.augment.crop_fraction = 1.0
    config.batch_size, config.epochs, config.steps_per_epoch = 64, 1, 40
    config.optim.base_lr, config.optim.warmup_epochs = 4e-3, 0
    classifier, history = train_classifier(config, tmp_path / "finetune")
    assert classifier.backbone.drop_path_rate == 0.1 and classifier.pooling == "avg"
    before = encoder_weights(cifar_run[2])
    moved = [p for p, v in encoder_weights(classifier).items() if not np.array_equal(v, before[p])]
    assert "backbone/block_0/attn/qkv/kernel" in moved
    assert history.history["val_accuracy"][-1] > 0.13, history.history  # chance 0.10; ~0.18
    served = tf.saved_model.load(str(tmp_path / "finetune" / "saved_model"))
    probabilities = served.signatures["classify"](images=tf.zeros((2, 32, 32, 3)))["probabilities"]
    assert probabilities.shape == (2, 10)


def test_training_targets_are_smoothed_and_mixed_distributions(cifar_folder):
    source = from_folder(cifar_folder / "test")
    dataset = make_classification_dataset(source, (32, 32), **CIFAR, batch_size=32, training=True,
                                          label_smoothing=0.1)
    images, targets = next(iter(dataset))
    assert images.shape == (32, 32, 32, 3) and targets.shape == (32, 10)
    np.testing.assert_allclose(np.sum(targets, axis=1), 1.0, rtol=1e-5)
    assert np.min(targets) >= 0.01 - 1e-6  # smoothing: every class keeps 0.1 / 10
    assert np.mean(np.max(targets, axis=1) < 0.9 - 1e-3) > 0.5  # mixed with a second image
    unmixed = make_classification_dataset(source, (32, 32), **CIFAR, batch_size=32, training=True,
                                          mixup_alpha=0, cutmix_alpha=0, label_smoothing=0.1)
    _, plain = next(iter(unmixed))
    np.testing.assert_allclose(np.sort(np.unique(np.round(plain, 4))), [0.01, 0.91])


def test_random_erasing_replaces_one_rectangle_with_noise():
    image = tf.zeros((32, 32, 3))
    erased = [random_erasing(image, tf.constant([i, 7]), probability=1.0).numpy() for i in range(50)]
    for result in erased:
        rows, cols = np.nonzero(np.any(result != 0, axis=-1))
        area = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert len(rows) == area  # one filled rectangle
        assert 0.02 * 1024 * 0.5 <= area <= 1024 / 3 * 1.5
    assert np.all(random_erasing(image, tf.constant([1, 2]), probability=0.0).numpy() == 0)


def test_held_out_images_are_centre_cropped_as_imagenets_224_of_256():
    ramp = tf.cast(tf.tile(tf.range(64)[None, :, None], (64, 1, 3)), tf.uint8)
    crop = centre_crop(ramp, (56, 56), crop_fraction=0.875).numpy()
    assert crop.shape == (56, 56, 3)
    assert 3 <= crop[0, 0, 0] <= 5 and 58 <= crop[0, -1, 0] <= 60  # 4 px trimmed each side


def test_the_centre_crop_keeps_the_aspect_ratio_of_wide_images():
    wide = tf.random.uniform((40, 80, 3), maxval=255.0, seed=3)
    crop = centre_crop(wide, (32, 32), crop_fraction=1.0).numpy()
    shorter_side_to_32 = tf.image.resize(wide, (32, 64), method="bicubic").numpy()
    np.testing.assert_allclose(crop, np.clip(shorter_side_to_32[:, 16:48], 0, 255), atol=1e-4)


def test_classification_needs_labelled_images():
    with pytest.raises(ValueError, match="labelled images"):
        make_classification_dataset(from_arrays(np.zeros((4, 8, 8, 3))), (8, 8), (0.5,), (0.5,), 2,
                                    training=True)


def small_finetune_config(cifar_folder, **changes):
    config = finetune_config()
    config.model.preset = "mae_vit_micro_patch4_32"
    config.data.source = "folder"
    config.data.train, config.data.eval = str(cifar_folder / "train"), str(cifar_folder / "test")
    config.data.image_size, config.data.num_channels = (32, 32), 3
    config.data.mean, config.data.std = CIFAR["mean"], CIFAR["std"]
    config.batch_size = 64
    for key, value in changes.items():
        config[key] = value
    return config


@pytest.mark.parametrize("changes, message", [
    (dict(init_checkpoint="missing/model.keras"), "init_checkpoint 'missing/model.keras' does not exist"),
    (dict(nan_policy="skip"), "nan_policy 'skip' is for pretraining"),
    (dict(modle="typo"), "Unknown config field 'modle'"),
])
def test_evaluation_runs_are_checked_before_any_work(cifar_folder, tmp_path, changes, message):
    with pytest.raises(InputError, match=message):
        train_classifier(small_finetune_config(cifar_folder, **changes), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_unknown_pooling_is_refused_before_any_work(cifar_folder, tmp_path):
    config = small_finetune_config(cifar_folder)
    config.model.pooling = "max"
    with pytest.raises(InputError, match="Unknown model.pooling 'max'; use one of 'avg', 'cls'"):
        train_classifier(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_pretrained_models_own_architecture_decides_the_checks(tmp_path):
    MaskedAutoencoder.from_preset("mae_vit_micro_patch4_28_grey").save(tmp_path / "grey.keras")
    config = finetune_config()  # preset ViT-B/16, whose 16-pixel patches do not tile 28x28
    config.data.image_size, config.data.num_channels = (28, 28), 1
    config.data.mean, config.data.std = (0.5,), (0.5,)
    config.init_checkpoint = str(tmp_path / "grey.keras")
    checks.check_config(config)  # the checkpoint's patch size 4 does
    checkpoint = (tmp_path / "grey.keras").stat().st_size
    assert checks.run_bytes(config) < 4 * checkpoint * (config.epochs + 6)  # not ViT-B's


def test_a_pretrained_model_of_other_channels_is_refused(cifar_folder, tmp_path):
    MaskedAutoencoder.from_preset("mae_vit_micro_patch4_28_grey").save(tmp_path / "grey.keras")
    config = small_finetune_config(cifar_folder, init_checkpoint=str(tmp_path / "grey.keras"))
    with pytest.raises(InputError, match="takes images with 1 channel.s., the config gives 3"):
        train_classifier(config, tmp_path / "run")
    assert not any((tmp_path / "run").iterdir())
