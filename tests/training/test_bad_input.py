"""The bad-input matrix: each mistake ends in one clear message naming the value and the fix,
before anything is written. `train.py` as a user runs it, and `pretrain.run` for the rest."""

import pathlib
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_mae import MaskedAutoencoder
from keras_mae.data import from_arrays, from_folder, from_tfds
from keras_mae.errors import InputError
from keras_mae.training import checks
from keras_mae.training.config import default_config
from keras_mae.training.pretrain import pretrain

from conftest import make_mae

REPO = pathlib.Path(__file__).resolve().parents[2]


def small_config():
    """The quickstart run, shrunk: the bundled grey sample and the micro grey preset."""
    config = default_config()
    config.model.preset = "mae_vit_micro_patch4_28_grey"
    config.batch_size = 16
    config.epochs = 1
    config.steps_per_epoch = 2
    config.eval_steps = 1
    config.num_figure_images = 2
    return config


@pytest.mark.parametrize("flags, value, fix", [
    (["--config.modle.preset=x"], "'modle.preset'", "Did you mean --config.model.preset?"),
    (["--config.model.mask_ratio=1.0"], "got 1.0", "The paper uses 0.75"),
    (["--config.augment.mixup_alpha=0.2"], "'augment.mixup_alpha'",  # a fine-tuning field
     "--config configs/quickstart.py:finetune"),
    (["--config.data.source=folder", "--config.data.train=/no/such/train"],
     "'/no/such/train' does not exist", "Pass the path of a folder"),
])
def test_train_py_answers_a_mistake_with_one_line_and_exit_status_2(tmp_path, flags, value, fix):
    workdir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "train.py", "--config", "configs/quickstart.py",
         "--workdir", str(workdir), *flags],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == [lines[-1]]  # one error line, and it is the last word
    assert value in errors[0] and fix in errors[0]
    assert "Traceback" not in result.stderr and len(lines) < 15  # TF's start-up notes at most
    assert not workdir.exists()


def config_with(**changes):
    config = small_config()
    for path, value in changes.items():
        *parents, field = path.split("__")
        node = config
        for parent in parents:
            node = node[parent]
        node[field] = value
    return config


@pytest.mark.parametrize("changes, message", [
    (dict(data__image_size=(30, 28)), "Image size 30x28 is not divisible by patch size 4"),
    (dict(model__mask_ratio=-0.1), "mask_ratio must be in [0, 1), got -0.1"),
    (dict(model__mask_ratio=0.99), "leaves no visible patch of 49; lower it below 0.9796"),
    (dict(model__preset="mae_vit_bse_patch16"), "Did you mean 'mae_vit_base_patch16'?"),
    # "mirrored" replicates over the GPUs where there are GPUs, else over conftest's 2 CPUs.
    pytest.param(dict(batch_size=15, strategy="mirrored"),
                 "Global batch size 15 is not divisible by the 2 replicas",
                 marks=pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")),
                                          reason="GPUs present: 'mirrored' would not use the 2 "
                                                 "logical CPUs")),
    (dict(data__mean=(0.5, 0.5, 0.5)), "data.mean has 3 value(s) for 1 channel(s)"),
    (dict(data__std=(0.0,)), "data.std must be positive"),
    (dict(nan_policy="ignore"), "Unknown nan_policy 'ignore'; use one of 'stop', 'skip'"),
    (dict(figure_every_epochs=0), "figure_every_epochs must be at least 1, got 0"),
    (dict(data__source="folder", data__train="/no/such/folder"),
     "Image folder '/no/such/folder' does not exist"),
    (dict(data__eval="test"), "Unknown sample split 'test'"),
    (dict(batch_size=2048), "The held-out data has 1000 images, fewer than one batch of 2048"),
])
def test_run_refuses_bad_config_before_writing_anything(tmp_path, changes, message):
    with pytest.raises(InputError) as error:
        pretrain(config_with(**changes), tmp_path / "run")
    assert message in str(error.value)
    assert not (tmp_path / "run").exists()


def test_a_misspelt_field_in_a_config_file_is_refused_with_the_close_name():
    config = small_config()
    config.data.imagesize = (32, 32)  # a typo ConfigDict accepts silently
    with pytest.raises(InputError, match=r"Unknown config field 'data.imagesize'\. Did you mean "
                                         r"'data.image_size'\?"):
        checks.check_config(config)


def test_an_unwritable_workdir_is_refused_before_training(tmp_path):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(InputError, match="Cannot write to the work directory .*a_file/run.*"
                                         "Choose another --workdir"):
        pretrain(small_config(), tmp_path / "a_file" / "run")


def test_a_disk_too_small_for_the_checkpoints_is_refused_before_training(tmp_path, monkeypatch):
    config = small_config()
    config.epochs = 800
    needed = checks.run_bytes(config)
    free = needed // 2
    monkeypatch.setattr(checks.shutil, "disk_usage",
                        lambda path: types.SimpleNamespace(total=free, used=0, free=free))
    with pytest.raises(InputError, match=r"needs about .* GiB more .* and .* GiB is free.*"
                                         r"--config.keep_checkpoints=N"):
        pretrain(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    config.keep_checkpoints = 2  # keeping fewer checkpoints is the fix the message gives
    assert checks.run_bytes(config) < free


def test_parameter_count_matches_the_built_models(tiny_config):
    from keras_mae import MaskedAutoencoder

    for arguments in (tiny_config, checks.architecture(small_config())):
        assert checks.parameter_count(arguments) == make_mae(**arguments).count_params()


def test_folder_without_class_subfolders_is_refused_where_labels_are_needed(cifar_folder):
    flat = cifar_folder / "test" / "cat"
    assert from_folder(flat).num_classes == 0
    with pytest.raises(InputError, match="holds images but no class subfolders.*<class>/<image>"):
        from_folder(flat, require_labels=True)


def test_grey_images_become_rgb_for_an_rgb_model_and_back(caplog):
    grey = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 1), dtype=np.uint8)
    with caplog.at_level("WARNING"):
        rgb = next(iter(from_arrays(grey, num_channels=3).dataset))[0].numpy()
    assert "have 1 channel(s): converting them to 3" in caplog.text
    np.testing.assert_array_equal(rgb, np.repeat(grey[0], 3, axis=-1))
    back = next(iter(from_arrays(np.repeat(grey, 3, axis=-1), num_channels=1).dataset))[0]
    np.testing.assert_allclose(back.numpy(), grey[0], atol=1)  # luma weights sum to 1


def test_other_channel_counts_are_refused_with_the_setting_to_change():
    rgba = np.zeros((2, 8, 8, 4), np.uint8)
    with pytest.raises(InputError, match="have 4 channel.*takes 3.*num_channels=4"):
        from_arrays(rgba, num_channels=3)


def test_a_model_fed_images_of_another_channel_count_names_both(tiny_config):
    from keras_mae import MaskedAutoencoder

    model = make_mae(**tiny_config)
    with pytest.raises(InputError, match="16x24 images with 3 channel.*got 16x24 with 1"):
        model(tf.zeros((1, 16, 24, 1)))


def test_unknown_tfds_name_lists_the_close_ones(tmp_path):
    with pytest.raises(InputError, match="TFDS has no data set 'cifar100x'. Did you mean "
                                         "'cifar100'"):
        from_tfds("cifar100x", data_dir=str(tmp_path), download=False)


def test_tfds_set_not_prepared_while_downloads_are_off_says_how_to_prepare_it(tmp_path):
    with pytest.raises(InputError, match=rf"not prepared in {tmp_path}.*`tfds build cifar10 "
                                         rf"--data_dir={tmp_path} --file_format=array_record`"):
        from_tfds("cifar10", data_dir=str(tmp_path), download=False)
    assert list(tmp_path.iterdir()) == []  # nothing downloaded or half-prepared


@pytest.fixture(scope="module")
def prepared_tfds_dir(tmp_path_factory):
    """A TFDS data_dir holding `dummy_mnist` (TFDS' own offline test set: 20 grey 28x28 images
    per split), prepared without network."""
    data_dir = tmp_path_factory.mktemp("tfds")
    tfds.testing.DummyMnist(data_dir=str(data_dir)).download_and_prepare()
    return str(data_dir)


def test_prepared_tfds_set_loads_offline_with_the_channels_asked_for(prepared_tfds_dir):
    source = from_tfds("dummy_mnist", "test", data_dir=prepared_tfds_dir, download=False,
                       num_channels=3)
    images = [image.numpy() for image, _ in source.dataset]
    assert source.num_examples == len(images) == 20
    assert all(i.shape == (28, 28, 3) and (i == i[..., :1]).all() for i in images)


def test_unknown_tfds_split_lists_the_splits(prepared_tfds_dir):
    with pytest.raises(InputError, match="no split 'trian'; its splits: test, train"):
        from_tfds("dummy_mnist", "trian[:50%]", data_dir=prepared_tfds_dir, download=False)


@pytest.mark.parametrize("command, message", [
    (["keras_mae.export", "--checkpoint", "{tmp}/missing.keras", "--output", "{tmp}/out"],
     "Checkpoint '{tmp}/missing.keras' does not exist"),
    (["keras_mae.visualize", "--checkpoint", "{tmp}/model.keras", "--images", "{tmp}/broken.jpg",
      "--mean", "0.5", "--std", "0.5", "--output", "{tmp}/out"],
     "Cannot decode an image in {tmp}/broken.jpg"),
    (["keras_mae.convert", "--checkpoint", "{tmp}/missing.pth", "--output", "{tmp}/out.keras"],
     "Checkpoint '{tmp}/missing.pth' does not exist"),
    (["keras_mae.convert", "--checkpoint", "{tmp}/model.keras", "--output", "{tmp}/out.h5"],
     "must end in .keras (the model) or .weights.h5"),
])
def test_the_other_command_lines_answer_a_mistake_with_one_line(tmp_path, command, message):
    MaskedAutoencoder.from_preset("mae_vit_micro_patch4_28_grey").save(tmp_path / "model.keras")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not a whole JPEG")
    arguments = [argument.format(tmp=tmp_path) for argument in command]
    result = subprocess.run([sys.executable, "-m", *arguments], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: ") and message.format(tmp=tmp_path) in last_line
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.keras").exists()
