"""Checkpoints never lose work: atomic writes, kept counts, size estimates, and backups of
another architecture refused by name."""

import json
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_mae import MaskedAutoencoder
from keras_mae.errors import InputError, TrainingStopped, full_disk
from keras_mae.models.presets import preset_arguments
from keras_mae.training.callbacks.backup import AtomicBackupAndRestore
from keras_mae.training.callbacks.checkpoints import EpochCheckpoints, save_atomically
from keras_mae.training.checks import checkpoint_bytes
from keras_mae.training.config import default_config
from keras_mae.training.pretrain import pretrain

from conftest import make_mae

REPO = pathlib.Path(__file__).resolve().parents[2]

# Saves model.keras with all weights 0, then dies by SIGKILL half-way through writing the
# version with all weights 1.
KILLED_WHILE_SAVING = """
import os, signal, sys
import numpy as np
from keras_mae import MaskedAutoencoder, ViTBackbone
from keras_mae.models.presets import split_arguments
from keras_mae.training.callbacks.checkpoints import save_atomically

path = sys.argv[1]
backbone_arguments, arguments = split_arguments({tiny})
model = MaskedAutoencoder(ViTBackbone(**backbone_arguments), **arguments)
model.compile(optimizer="adamw")
model.optimizer.build(model.trainable_variables)
model.set_weights([np.zeros_like(w) for w in model.get_weights()])
save_atomically(model, path)
model.set_weights([np.ones_like(w) for w in model.get_weights()])
save = model.save

def save_then_die(target, *args, **kwargs):
    save(target, *args, **kwargs)
    with open(target, "r+b") as f:
        f.truncate(os.path.getsize(target) // 2)  # as a kill mid-write leaves it
    os.kill(os.getpid(), signal.SIGKILL)

model.save = save_then_die
save_atomically(model, path)
"""


def test_a_kill_while_saving_leaves_the_previous_model_loadable(tiny_config, tmp_path):
    path = tmp_path / "model.keras"
    script = KILLED_WHILE_SAVING.format(tiny=tiny_config)
    result = subprocess.run([sys.executable, "-c", script, str(path)], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -9, result.stderr[-3000:]
    partial = tmp_path / ".model.partial.keras"
    assert partial.exists() and partial.stat().st_size < path.stat().st_size  # the half write
    model = keras.models.load_model(path)
    assert all((w == 0).all() for w in model.get_weights())  # the first version, whole


def test_epoch_checkpoints_keep_the_newest_and_leave_no_temporary_file(tiny_config, tmp_path):
    model = make_mae(**tiny_config)
    callback = EpochCheckpoints(tmp_path, keep=2)
    callback.set_model(model)
    for epoch in (997, 998, 999, 1000):  # saved as epoch_998 ... epoch_1001
        callback.on_epoch_end(epoch)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_1000.keras", "epoch_1001.keras"]


def test_checkpoint_size_estimate_bounds_the_real_file(tmp_path):
    backbone, decoder = preset_arguments("mae_vit_micro_patch4_32")
    arguments = {**backbone, **decoder}
    model = make_mae(**arguments)
    model.compile(optimizer="adamw")
    model.optimizer.build(model.trainable_variables)
    save_atomically(model, tmp_path / "model.keras")
    actual = (tmp_path / "model.keras").stat().st_size
    assert actual <= checkpoint_bytes(arguments) < actual + 1.1 * 2**20


def test_a_backup_of_another_architecture_is_refused_naming_the_weight(tmp_path):
    rgb = MaskedAutoencoder.from_preset("mae_vit_micro_patch4_32", image_size=28)
    rgb.compile(optimizer="adamw")
    backup = AtomicBackupAndRestore(str(tmp_path / "backup"))
    backup.set_model(rgb)
    backup.save_now()
    (tmp_path / "config.json").write_text('{"written by": "the run of the backup"}')

    config = default_config()  # the grey quickstart model in the same work directory
    config.model.preset = "mae_vit_micro_patch4_28_grey"
    config.batch_size, config.epochs, config.eval_steps = 16, 1, 1
    with pytest.raises(InputError, match=r"another architecture: weight "
                                         r"'backbone/patch_embed/projection/kernel' has shape "
                                         r"\(4, 4, 3, 128\) there and \(4, 4, 1, 128\) in this "
                                         r"model\. Use another --workdir"):
        pretrain(config, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {
        "written by": "the run of the backup"}


def test_a_full_disk_during_a_backup_keeps_the_previous_one_and_says_how_to_resume(tmp_path):
    model = MaskedAutoencoder.from_preset("mae_vit_micro_patch4_28_grey")
    model.compile(optimizer="adamw")
    backup = AtomicBackupAndRestore(str(tmp_path / "backup"))
    backup.set_model(model)
    backup.save_now()

    def write_to_a_full_disk(path):
        with open("/dev/full", "wb") as full:  # every write there fails with ENOSPC
            full.write(b"weights")

    model.save_weights = write_to_a_full_disk
    with pytest.raises(OSError) as raised:
        backup.save_now()
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == ["state-1"]
    stopped = full_disk(raised.value, tmp_path)
    assert isinstance(stopped, TrainingStopped)
    assert str(tmp_path) in str(stopped) and "No space left on device" in str(stopped)
    assert "re-run the same command to resume" in str(stopped)
    assert full_disk(FileNotFoundError(2, "No such file or directory", "x"), tmp_path) is None
