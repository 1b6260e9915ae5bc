"""A work directory in a bucket (any `tf.io.gfile` file system; TensorFlow's in-memory `ram://`
stands in for `gs://` here): everything a run writes lands there, a killed run resumes from it,
a backup counts only once its marker is written, and a file system TensorFlow lacks is refused
before any work."""

import json
import os
import sys
import uuid

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mae.errors import InputError
from keras_mae.export import export_saved_model
from keras_mae.training import pretrain as pretrain_module
from keras_mae.training.callbacks import AtomicBackupAndRestore, DataPosition
from keras_mae.training.config import default_config
from keras_mae.training.pretrain import pretrain

from conftest import TINY, killed_after_backup, make_mae

GREY_TINY = {**TINY, "image_size": (28, 28), "num_channels": 1}


def bucket(name):
    """A fresh folder in the in-memory file system (it lives as long as the process)."""
    return f"ram://{uuid.uuid4().hex}/{name}"


def listing(folder):
    """The names in a folder of any file system, sorted, without a trailing slash."""
    return sorted(name.rstrip("/") for name in tf.io.gfile.listdir(folder))


def small_pretraining(everything=False):
    """2 epochs of 4 steps on the bundled sample with a backup every 3 steps; `everything`
    adds what does not change the weights: the held-out loss and the figure (the SavedModel,
    slow to trace, has a test of its own)."""
    config = default_config()
    config.model.preset = "mae_vit_micro_patch4_28_grey"  # checked; the model is tiny
    config.data.image_size, config.data.num_channels = (28, 28), 1
    config.batch_size, config.epochs, config.steps_per_epoch = 16, 2, 4
    config.jit_compile, config.backup_every_steps = False, 3
    config.eval_steps, config.num_figure_images = 1, 2 * everything
    config.export_saved_model = False
    if not everything:
        config.data.eval = ""
    return config


def test_pretraining_in_a_bucket_killed_mid_epoch_resumes_there_to_the_uninterrupted_weights(
        monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # where a URL taken for a local path would land
    monkeypatch.setattr(pretrain_module, "build_model",
                        lambda config: make_mae(**GREY_TINY, seed=config.seed))
    whole, whole_history = pretrain(small_pretraining(), tmp_path / "whole")

    workdir = bucket("run")
    def run(workdir):
        return pretrain(small_pretraining(everything=True), workdir)

    backup = killed_after_backup(monkeypatch, run, workdir, backups=2)
    assert (backup["epoch"], backup["step"]) == (1, 2)  # after step 2 of epoch 2's 4
    resumed, _ = run(workdir)  # the same command again
    assert len(resumed.variables) == len(whole.variables)
    for mine, theirs in zip(resumed.variables, whole.variables):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs), err_msg=mine.path)

    assert listing(workdir) == ["backup", "checkpoints", "config.json", "history.json",
                                "model.keras", "reconstructions.png", "tensorboard"]
    with tf.io.gfile.GFile(f"{workdir}/history.json") as file:
        history = json.load(file)
    assert history["epoch"] == [1, 2] and len(history["val_loss"]) == 2
    assert history["loss"][0] == whole_history.history["loss"][0]  # epoch 1, before the kill
    assert listing(f"{workdir}/checkpoints") == ["epoch_001.keras", "epoch_002.keras"]
    newest = listing(f"{workdir}/backup")[-1]
    assert "COMPLETE" in listing(f"{workdir}/backup/{newest}")
    assert tf.io.gfile.glob(f"{workdir}/tensorboard/train/events.out.tfevents.*")
    saved = keras.models.load_model(f"{workdir}/model.keras")
    np.testing.assert_array_equal(saved.get_weights()[0], whole.get_weights()[0])
    assert sorted(os.listdir(tmp_path)) == ["whole"]  # no local folder named ram:


@pytest.mark.slow  # ~10 s of tracing; the run above writes everything else to the bucket
def test_a_saved_model_written_to_a_bucket_serves_the_model(tiny_config):
    model = make_mae(**tiny_config)
    folder = bucket("saved_model")
    export_saved_model(model, folder, mean=(0.5,), std=(0.25,))
    served = tf.saved_model.load(folder)
    images = tf.random.uniform((2, *model.image_size, model.num_channels), 0, 255)
    features = served.signatures["serving_default"](images=images)
    np.testing.assert_allclose(features["cls_token"],
                               model.features((images / 255 - 0.5) / 0.25)["cls_token"],
                               atol=1e-5)


def test_a_backup_state_without_its_marker_is_ignored_on_resume(tiny_config):
    """As a kill between the weights and the marker leaves it, on a store without atomic
    rename: the previous state is the one resumed from, and the next backup replaces it."""
    folder = bucket("backup")
    model = make_mae(**tiny_config)
    model.compile(optimizer="adamw", jit_compile=False)
    model.optimizer.build(model.trainable_variables)
    first_weights = model.get_weights()
    backup = AtomicBackupAndRestore(folder, position=DataPosition(epoch=1))
    backup.set_model(model)
    backup.save_now()
    model.set_weights([w + 1 for w in first_weights])
    backup.position = DataPosition(epoch=2, step=3)
    backup.save_now()
    tf.io.gfile.remove(f"{folder}/state-2/COMPLETE")
    assert AtomicBackupAndRestore.resume_position(folder) == (1, 0)

    restored = AtomicBackupAndRestore(folder)
    restored.set_model(model)
    restored.on_train_begin()
    for mine, first in zip(model.get_weights(), first_weights):
        np.testing.assert_array_equal(mine, first)
    restored.position = DataPosition(epoch=1, step=2)
    restored.save_now()  # state-2 again, this time whole
    assert listing(folder) == ["state-1", "state-2"]
    assert AtomicBackupAndRestore.resume_position(folder) == (1, 2)


def test_a_backup_of_an_earlier_version_without_a_marker_still_resumes(tiny_config, tmp_path):
    """Earlier versions renamed each state into place whole and wrote no marker."""
    model = make_mae(**tiny_config)
    backup = AtomicBackupAndRestore(str(tmp_path), position=DataPosition(epoch=3, step=1))
    backup.set_model(model)
    backup.save_now()
    (tmp_path / "state-1" / "COMPLETE").unlink()
    metadata_file = tmp_path / "state-1" / "training_metadata.json"
    metadata = json.loads(metadata_file.read_text())
    del metadata["marker"]
    metadata_file.write_text(json.dumps(metadata))
    assert AtomicBackupAndRestore.resume_position(tmp_path) == (3, 1)


@pytest.mark.parametrize("workdir, fix", [
    ("s3://my-bucket/run", "pip install tensorflow-io"),
    ("hdfs://namenode/run", "pip install tensorflow-io"),
    ("gcs://my-bucket/run", "gs://my-bucket/run"),  # a typo: TensorFlow's scheme is gs://
])
def test_a_workdir_on_a_file_system_tensorflow_lacks_is_refused_in_one_line_naming_the_plugin(
        workdir, fix, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "tensorflow_io", None)  # not installed, wherever run
    with pytest.raises(InputError) as raised:
        pretrain(small_pretraining(), workdir)
    message = str(raised.value)
    assert "\n" not in message and fix in message and workdir in message
    assert os.listdir(tmp_path) == []  # nothing written, not even a local folder "s3:"
