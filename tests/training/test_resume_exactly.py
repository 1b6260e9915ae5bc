"""A run killed and re-run with the same command ends with the uninterrupted run's weights: for
fine-tuning (drop path's random stream is in the backup) and linear probing, killed at an
epoch's end or inside an epoch."""

import json

import numpy as np
import pytest

from keras_mae.training.callbacks.backup import AtomicBackupAndRestore
from keras_mae.training.config import finetune_config, linprobe_config
from keras_mae.training.evaluate import train_classifier

from conftest import TINY, make_mae

GREY_TINY = {**TINY, "image_size": (28, 28), "num_channels": 1}


class Killed(Exception):
    """Stands for the process being killed."""


def small(config, init_checkpoint):
    """`config` on the bundled sample: 2 epochs of 3 steps of 16 images, a tiny pretrained
    encoder, without XLA, SavedModel or held-out data."""
    config.init_checkpoint = init_checkpoint
    config.data.image_size, config.data.num_channels = (28, 28), 1
    config.data.eval = ""
    config.batch_size, config.epochs, config.steps_per_epoch = 16, 2, 3
    config.jit_compile, config.export_saved_model = False, False
    return config


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    path = tmp_path_factory.mktemp("mae") / "mae.keras"
    make_mae(**GREY_TINY, seed=0).save(path)
    return str(path)


def killed_after_backup(monkeypatch, config, workdir):
    """Run `config` until its first backup is written, then stop as a kill would; return that
    backup's metadata."""
    save = AtomicBackupAndRestore._save_model

    def save_then_die(self):
        save(self)
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(AtomicBackupAndRestore, "_save_model", save_then_die)
        with pytest.raises(Killed):
            train_classifier(config, workdir)
    [state] = (workdir / "backup").glob("state-*")
    return json.loads((state / "training_metadata.json").read_text())


@pytest.mark.parametrize("make_config", [finetune_config, linprobe_config])
def test_a_classifier_killed_after_epoch_1_resumes_to_the_uninterrupted_weights(
        make_config, pretrained, monkeypatch, tmp_path):
    whole, _ = train_classifier(small(make_config(), pretrained), tmp_path / "whole")
    killed = tmp_path / "killed"
    assert killed_after_backup(monkeypatch, small(make_config(), pretrained), killed)[
        "epoch"] == 1
    resumed, history = train_classifier(small(make_config(), pretrained), killed)
    assert history.history["epoch"] == [1, 2]
    assert int(resumed.optimizer.iterations) == 2 * 3
    for mine, theirs in zip(resumed.variables, whole.variables):  # the random states too
        np.testing.assert_allclose(np.asarray(mine), np.asarray(theirs), rtol=0, atol=1e-6,
                                   err_msg=mine.path)
