"""Crash-safe resume: Keras' `BackupAndRestore` with all-or-nothing backups, on a local disk
or in a bucket (any `tf.io.gfile` file system, see `keras_mae.storage`).

Each backup (weights with optimizer state, the random-number states that `save_weights` leaves
out, the epoch counter and the logs of every finished epoch) is written into a new folder
`state-N`, then a marker file last; restore takes the newest state that has its marker, so a
kill at any moment leaves the previous complete backup, also where renaming a folder is not
atomic (object stores). Older states are deleted after.
A backup records the shape of every weight, so that a model of another architecture is refused
with the first weight that differs instead of being half loaded.
"""

import json
import re

import keras
import numpy as np

from keras_mae import storage
from keras_mae.errors import InputError

_WEIGHTS = "model.weights.h5"
_METADATA = "training_metadata.json"
_MARKER = "COMPLETE"  # written last: a state without it was cut short
_MARKED = "marker"  # in the metadata of states that count only with their marker


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose backups are all-or-nothing and survive a finished run, so that
    re-running a finished command does no further training.

    Each backup records where the run was in its data: the epoch, and with a `DataPosition`
    (`position`) the steps of it done, so that a run resumed from a backup taken inside an epoch
    (`save_freq=N`, Ctrl-C) goes on at the next example (`resume_position`). Without one, as in
    Keras, it repeats that epoch's data pass from the backup's weights and step counter.
    """

    def __init__(self, backup_dir, save_freq="epoch", keep=2, restore_dir=None, position=None):
        super().__init__(backup_dir, save_freq=save_freq, delete_checkpoint=False)
        self.keep = keep
        # Where the run resumes from: its own backups, or under multi-worker training the
        # chief's, so that every worker resumes at the same epoch (as tf.keras did).
        self.restore_dir = restore_dir or backup_dir
        self.position = position
        self._sequence = 0
        self._epochs = []  # the logs of every finished epoch, {"epoch": n, "loss": ..}

    @staticmethod
    def resume_epoch(backup_dir):
        """The epoch a run resumes at from the newest backup in `backup_dir` (0 without one)."""
        return AtomicBackupAndRestore.resume_position(backup_dir)[0]

    @staticmethod
    def resume_position(backup_dir):
        """(epoch, steps of it done) where a run resumes from the newest backup in `backup_dir`:
        (0, 0) without one; step 0 for a backup taken at an epoch's end (or without a
        position)."""
        states = _complete_states(backup_dir)
        if not states:
            return 0, 0
        metadata = _metadata(states[0])
        return metadata["epoch"], metadata.get("step", 0)

    def history(self):
        """Every finished epoch's logs as {"epoch": [1, 2, ..], name: [value or None, ..]}:
        aligned lists, None where an epoch lacks a value (e.g. k-NN every few epochs)."""
        names = sorted({name for logs in self._epochs for name in logs} - {"epoch"})
        history = {"epoch": [logs["epoch"] for logs in self._epochs]}
        history.update({name: [logs.get(name) for logs in self._epochs] for name in names})
        return history

    def on_epoch_end(self, epoch, logs=None):
        values = {name: float(np.mean(value)) for name, value in (logs or {}).items()}
        self._epochs.append({"epoch": epoch + 1, **values})
        super().on_epoch_end(epoch, logs)

    def _states(self):
        return _complete_states(self.restore_dir)

    def check_matches(self, model):
        """Refuse a backup written by a model whose weights have other names or shapes."""
        states = self._states()
        if not states:
            return
        saved = _metadata(states[0]).get("weights")
        mismatch = saved is not None and first_mismatch(dict(saved), weight_shapes(model))
        if mismatch:
            raise InputError(
                f"The backup in {self.backup_dir} is of another architecture: {mismatch}. "
                "Use another --workdir for this model, or the config of the run that wrote "
                "the backup (its config.json) to resume it."
            )

    def save_now(self):
        """Back up the current state, e.g. mid-epoch when the run is stopped; resuming goes on
        from these weights at the next example. Before `fit` has handed the model to its
        callbacks, there is nothing new to back up."""
        if self.model is not None:
            self._save_model()

    def _load_model(self):
        states = self._states()
        if not states:
            return
        self.check_matches(self.model)
        state = states[0]
        self._sequence = _number(state)
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(storage.join(state, _WEIGHTS))
        metadata = _metadata(state)
        restore_random_states(self.model, metadata.get("random_states", []))
        self._current_epoch = metadata["epoch"]
        self._epochs = metadata.get("history", [])

    def _save_model(self):
        self._sequence += 1
        state = storage.join(self.backup_dir, f"state-{self._sequence}")
        storage.remove(state)  # what a kill left of an earlier try at this number
        storage.makedirs(state)
        try:
            self.model.save_weights(storage.join(state, _WEIGHTS))
            epoch, step = ((self.position.epoch, self.position.step) if self.position
                           else (self._current_epoch, 0))
            metadata = {
                "epoch": epoch,
                "step": step,
                "weights": list(weight_shapes(self.model).items()),
                "random_states": random_states(self.model),
                "history": self._epochs,
                _MARKED: True,
            }
            storage.write_text(storage.join(state, _METADATA), json.dumps(metadata))
            storage.write_text(storage.join(state, _MARKER), "")
        except BaseException:  # e.g. a full disk: keep no half-written state
            storage.remove(state)
            raise
        kept = _complete_states(self.backup_dir)[:self.keep]
        for old in _states_in(self.backup_dir):
            if old not in kept:
                storage.remove(old)


def _states_in(backup_dir):
    """Every backup folder `state-N` in `backup_dir`, complete or not."""
    return [storage.join(backup_dir, name) for name in storage.listdir(backup_dir)
            if re.fullmatch(r"state-\d+", name)]


def _complete_states(backup_dir):
    """The complete backups in `backup_dir`, newest first."""
    return sorted(filter(_is_complete, _states_in(backup_dir)), key=_number, reverse=True)


def _is_complete(state):
    """A state is whole once its marker is written. States written before markers existed were
    renamed into place whole: a state whose metadata does not ask for a marker is whole too."""
    if storage.exists(storage.join(state, _MARKER)):
        return True
    if not storage.exists(storage.join(state, _METADATA)):
        return False
    try:
        return _MARKED not in _metadata(state)
    except ValueError:  # metadata cut short
        return False


def _metadata(state):
    return json.loads(storage.read_text(storage.join(state, _METADATA)))


def _number(state):
    """.../state-12 -> 12."""
    return int(state.rsplit("-", 1)[1])


def random_states(model):
    """The values of the model's random-number states (its `SeedGenerator`s: drop path,
    dropout), in the model's order, which `save_weights` leaves out: restored, a resumed run
    draws what the uninterrupted one would have drawn."""
    return [keras.ops.convert_to_numpy(variable).tolist()
            for variable in _random_state_variables(model)]


def restore_random_states(model, states):
    """Set the states `random_states` saved (a backup without them leaves the model's). By
    order, not by path: a generator's name may take a suffix (`seed_generator_1`)."""
    variables = _random_state_variables(model)
    if len(variables) == len(states):
        for variable, value in zip(variables, states):
            variable.assign(np.asarray(value, dtype=variable.dtype))


def _random_state_variables(model):
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def weight_shapes(model):
    """{weight path within the model: shape list} of every weight, in the model's order."""
    return {
        weight.path.removeprefix(f"{model.name}/"): list(weight.shape) for weight in model.weights
    }


def first_mismatch(saved, current):
    """The first difference between two `weight_shapes`, in words, or None."""
    for path, shape in current.items():
        if path not in saved:
            return f"this model's weight {path!r} {tuple(shape)} is not in it"
        if saved[path] != shape:
            return (f"weight {path!r} has shape {tuple(saved[path])} there and "
                    f"{tuple(shape)} in this model")
    extra = next((path for path in saved if path not in current), None)
    return extra and f"its weight {extra!r} {tuple(saved[extra])} is not in this model"
