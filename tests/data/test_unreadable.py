"""Corrupt or truncated images in a folder: the run stops naming every bad file, never with a
crash deep in tf.data, and keeps its state to resume once they are removed."""

import shutil

import h5py
import pytest
import tensorflow as tf

from keras_mae import MaskedAutoencoder
from keras_mae.data import find_unreadable, from_folder
from keras_mae.errors import InputError
from keras_mae.training import runner
from keras_mae.training.callbacks.backup import AtomicBackupAndRestore
from keras_mae.training.config import default_config
from keras_mae.training.pretrain import pretrain

from conftest import make_mae


@pytest.fixture
def folder_with_bad_images(cifar_folder, tmp_path):
    """40 real CIFAR-10 JPEGs in two classes, plus a truncated JPEG, a truncated PNG (both cut
    from real images) and a text file named .jpg."""
    root = tmp_path / "images"
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for jpeg in sorted((cifar_folder / "test" / label).iterdir())[:20]:
            shutil.copy(jpeg, root / label / jpeg.name)
    real = (root / "cat" / "0000.jpg").read_bytes()
    png = tf.io.encode_png(tf.io.decode_jpeg(real)).numpy()
    bad = {
        root / "cat" / "truncated.jpg": real[: len(real) // 2],
        root / "dog" / "truncated.png": png[: len(png) // 2],
        root / "dog" / "notes.jpg": b"not an image, whatever the name says\n",
    }
    for path, data in bad.items():
        path.write_bytes(data)
    return root, sorted(str(path) for path in bad)


def test_find_unreadable_names_exactly_the_bad_files_with_a_reason(folder_with_bad_images):
    root, bad = folder_with_bad_images
    found = find_unreadable(from_folder(root).files)
    assert sorted(file for file, _ in found) == bad
    reasons = dict(found)
    assert "Invalid JPEG data" in reasons[str(root / "cat" / "truncated.jpg")]
    assert "Invalid PNG data" in reasons[str(root / "dog" / "truncated.png")]
    assert "Unknown image file format" in reasons[str(root / "dog" / "notes.jpg")]


def test_a_run_on_bad_images_stops_naming_them_all(folder_with_bad_images, tmp_path):
    root, bad = folder_with_bad_images
    config = default_config()
    config.model.preset = "mae_vit_micro_patch4_32"
    config.data.source, config.data.train, config.data.eval = "folder", str(root), ""
    config.data.image_size, config.data.num_channels = (32, 32), 3
    config.data.mean, config.data.std = (0.5,) * 3, (0.25,) * 3
    config.batch_size, config.epochs, config.jit_compile = 8, 1, False
    with pytest.raises(InputError) as error:
        pretrain(config, tmp_path / "run")
    message = str(error.value)
    assert message.startswith("3 image file(s) cannot be decoded: ")
    assert all(file in message for file in bad) and "Delete or replace them" in message
    assert not (tmp_path / "run" / "model.keras").exists()


def test_a_decode_error_mid_fit_backs_up_the_steps_done(folder_with_bad_images, tiny_config,
                                                         tmp_path):
    root, bad = folder_with_bad_images
    source = from_folder(root)  # sorted: cat/0000-0019.jpg, then cat/truncated.jpg
    images = source.dataset.map(lambda image, _: tf.image.resize(image, (16, 24))).batch(4)
    model = make_mae(**tiny_config)
    model.compile(optimizer="adamw", jit_compile=False)
    backup = AtomicBackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(InputError, match="3 image file"):
        try:
            model.fit(images, callbacks=[backup], verbose=0)
        except tf.errors.OpError:
            runner.refuse_unreadable_images([source], backup, tmp_path)
    [state] = (tmp_path / "backup").glob("state-*")
    with h5py.File(state / "model.weights.h5") as weights:
        assert int(weights["optimizer/vars/0"][()]) == 5  # the optimizer's step counter
