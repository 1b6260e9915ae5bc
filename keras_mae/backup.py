"""Crash-safe resume: Keras' `BackupAndRestore` with atomic writes.

Each backup (weights with optimizer and RNG state, plus the epoch counter) is written into a
fresh temporary folder that is then renamed into place, so a kill at any moment leaves the
previous complete backup; restore takes the newest complete one.
"""

import json
import os
import pathlib
import shutil

import keras

_WEIGHTS = "model.weights.h5"
_METADATA = "training_metadata.json"


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose backups are all-or-nothing and survive a finished run, so that
    re-running a finished command does no further training.

    As in Keras, a run resumed from a mid-epoch backup (`save_freq=N`) restarts that epoch's data
    pass with the weights, optimizer state and step counter of the backup.
    """

    def __init__(self, backup_dir, save_freq="epoch", keep=2):
        super().__init__(backup_dir, save_freq=save_freq, delete_checkpoint=False)
        self.keep = keep
        self._sequence = 0

    def _states(self):
        """Complete backups, newest first."""
        root = pathlib.Path(self.backup_dir)
        states = [p for p in root.glob("state-*") if (p / _METADATA).exists()] if root.exists() else []
        return sorted(states, key=lambda p: int(p.name.split("-")[1]), reverse=True)

    def _load_model(self):
        states = self._states()
        if not states:
            return
        state = states[0]
        self._sequence = int(state.name.split("-")[1])
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(state / _WEIGHTS)
        metadata = json.loads((state / _METADATA).read_text())
        self.model._initial_epoch = metadata["epoch"]
        self._current_epoch = metadata["epoch"]

    def _save_model(self):
        root = pathlib.Path(self.backup_dir)
        root.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        staging = root / f".staging-{self._sequence}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        self.model.save_weights(staging / _WEIGHTS)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        (staging / _METADATA).write_text(json.dumps(metadata))
        os.replace(staging, root / f"state-{self._sequence}")
        for old in self._states()[self.keep:]:
            shutil.rmtree(old, ignore_errors=True)
