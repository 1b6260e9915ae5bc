"""Ending a run cleanly: on a NaN/Inf loss (`config.nan_policy`) and on Ctrl-C.

Both stop between steps by raising an error whose message says what happened and what is kept;
being first among the callbacks, they stop before any later one could save.
"""

import contextlib
import math
import signal
import sys
import threading

import keras
from absl import logging

from keras_mae.errors import Interrupted, TrainingStopped
from keras_mae.training.callbacks.steps import ExecutionSteps


def _step(model):
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


class NonFiniteLossPolicy(ExecutionSteps):
    """Acts on training steps whose loss was NaN or Inf, which the model never applies (see
    `keras_mae.models.nonfinite`) and reports as `skipped_steps` in its logs: "stop" ends the run
    at the first one; "skip" goes on, reports the count of each epoch, and stops if a whole epoch
    was skipped. Models without that metric (classifiers) apply such a step; "stop" then ends
    the run before anything saves the damaged weights. Steps that mixed_float16's loss scale
    left unapplied (`loss_scale_skips`) never stop a run alone, as the scale recovers; they
    count as skipped towards an epoch that was skipped whole."""

    def __init__(self, policy, workdir):
        super().__init__()
        self.policy = policy
        self.workdir = workdir
        self._epoch = self._skipped = self._scale_skipped = self._steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._skipped, self._scale_skipped, self._steps = epoch, 0, 0, 0

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self._scale_skipped = round(float(logs.get("loss_scale_skips", 0.0)))
        if "skipped_steps" in logs:  # models that count the steps they left unapplied
            self._skipped = round(float(logs["skipped_steps"]))
        else:  # the running mean of the loss turns NaN/Inf with the first such step
            self._skipped = int(not math.isfinite(float(logs.get("loss", 0.0))))
        first, self._steps = self._steps + 1, self.steps_done
        where = (f"at its step {first}" if first == self._steps
                 else f"in its steps {first}-{self._steps}")
        if self._skipped and self.policy == "stop":
            raise TrainingStopped(
                f"The loss was NaN or Inf in epoch {self._epoch + 1}, {where}. "
                f"Nothing was saved after it: the checkpoints and the backup in "
                f"{self.workdir} hold the last good state. Lower the learning rate "
                "(--config.optim.base_lr) or check the data, then re-run the same command to "
                "resume; when pretraining, --config.nan_policy=skip skips such steps."
            )

    def on_epoch_end(self, epoch, logs=None):
        if self._scale_skipped and self._skipped + self._scale_skipped >= self._steps:
            raise TrainingStopped(
                f"Every one of the {self._steps} steps of epoch {epoch + 1} was skipped: "
                f"{self._scale_skipped} by mixed_float16's loss scale (their gradients "
                f"overflowed float16), {self._skipped} for a NaN or Inf loss. Lower the "
                "learning rate (--config.optim.base_lr), or train in float32 or "
                "mixed_bfloat16, then re-run the same command to resume from the last backup."
            )
        if self._scale_skipped:
            logging.warning("Epoch %d: the loss scale skipped %d of %d steps (float16 "
                            "gradients overflowed; the scale is now %g).", epoch + 1,
                            self._scale_skipped, self._steps, float((logs or {}).get(
                                "loss_scale", float("nan"))))
        if not self._skipped:
            return
        if self._skipped >= self._steps:
            raise TrainingStopped(
                f"Every one of the {self._steps} steps of epoch {epoch + 1} had a NaN or Inf "
                "loss and was skipped. Lower the learning rate (--config.optim.base_lr) or check "
                "the data, then re-run the same command to resume from the last backup."
            )
        logging.warning("Epoch %d: skipped %d of %d steps whose loss was NaN or Inf "
                        "(nan_policy=skip).", epoch + 1, self._skipped, self._steps)


class StopOnInterrupt(keras.callbacks.Callback):
    """Ctrl-C (SIGINT) during `fit` ends the run at the next step, after backing up the state
    reached; a second Ctrl-C quits at once. Use `fit` inside `catching_interrupts()`."""

    def __init__(self, backup):
        super().__init__()
        self.backup = backup
        self._requested = False
        self._epoch = 0

    @contextlib.contextmanager
    def catching_interrupts(self):
        """Route SIGINT to this callback while the block runs (main thread only: elsewhere
        Python delivers no signals, and Ctrl-C keeps its default)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self._request)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _request(self, signum, frame):
        if self._requested:
            raise KeyboardInterrupt
        self._requested = True
        print("\nCtrl-C: stopping after this step and backing up (Ctrl-C again to quit at once).",
              file=sys.stderr, flush=True)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._stop_if_requested()

    def on_test_batch_end(self, batch, logs=None):
        self._stop_if_requested()

    def _stop_if_requested(self):
        if not self._requested:
            return
        self.backup.save_now()
        raise Interrupted(
            f"Stopped by Ctrl-C in epoch {self._epoch + 1}, after step {_step(self.model)}; the "
            f"state is backed up in {self.backup.backup_dir}. Resume with the same command (it "
            "goes on from the state reached, at the next example)."
        )
