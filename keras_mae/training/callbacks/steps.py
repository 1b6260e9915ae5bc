"""How many of a `fit`'s steps are done when `on_train_batch_end` reports an execution of
`steps_per_execution` (N) steps, on any Keras: every version passes `on_train_batch_begin` the
execution's first step, but `on_train_batch_end` gets its last step from Keras 3.11 on and its
first in Keras 3.10."""

import keras


class ExecutionSteps(keras.callbacks.Callback):
    """A callback that reads `steps_done` in `on_train_batch_end`: the execution's first step + N,
    no further than the epoch's `params["steps"]` (its last execution may be shorter; Keras
    numbers it as a whole N). Subclasses overriding `on_train_batch_begin` call `super()`."""

    _first_step = 0  # of the execution under way

    def on_train_batch_begin(self, batch, logs=None):
        self._first_step = batch
        super().on_train_batch_begin(batch, logs)

    @property
    def steps_done(self):
        done = self._first_step + self.model.steps_per_execution
        return min(done, (self.params or {}).get("steps") or done)
