"""Training as one `model.fit` per epoch, so that any `steps_per_execution` gives each epoch
exactly its steps, from its own examples.

Keras runs whole executions of `steps_per_execution` (N) steps from one iterator carried from
epoch to epoch: where N does not divide an epoch's S steps, it runs ceil(S/N) x N steps an epoch,
each epoch eats into the next one's data, and a resumed run (which starts at an epoch's first
example) leaves the uninterrupted one. Given one epoch's batches as a dataset of known length,
Keras ends the epoch's last execution where the data ends instead (its step loop reads
`get_next_as_optional`). The callbacks still see one training: `on_train_begin` and
`on_train_end` once, around every epoch's `fit`.
"""

import keras
import tensorflow as tf

from keras_mae.training.callbacks.steps import ExecutionSteps


class OneTraining(keras.callbacks.CallbackList):
    """The callbacks of one training made of several `fit` calls: the `on_train_begin` and
    `on_train_end` each `fit` makes are ignored; `begin` and `end` make them once."""

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def begin(self):
        """`on_train_begin` of every callback (e.g. the backup restores its state), in the
        model's distribution scope, where `fit` would build the optimizer."""
        with self.model.distribute_strategy.scope():
            super().on_train_begin()

    def end(self):
        super().on_train_end()


class StepProgbar(ExecutionSteps, keras.callbacks.ProgbarLogger):
    """Keras' progress bar, counting the steps done on any Keras (3.10 numbers an execution by
    its first step) and the epoch's last execution up to the epoch's end (not 72/70)."""

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(self.steps_done - 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        if not self.target:  # an epoch all done before a resume: shown as of unknown length,
            self.progbar.target = None  # as Keras 3.11+ show 0 (3.10 fails on log10(0))
        super().on_epoch_end(epoch, logs)


def fit_by_epoch(model, train_data, callbacks, epochs, steps_per_epoch, first_epoch=0,
                 first_step=0, **fit_options):
    """Train the epochs from `first_epoch` (from its step `first_step`) to `epochs`, one `fit`
    each, and return the `History` of them all.

    Args:
        model: a compiled Keras model.
        train_data: `train_data(first_epoch=e, epochs=e + 1, first_step=k)` -> the batches of
            epoch e from its step k (a `tf.data.Dataset`).
        callbacks: a list of callbacks, called as over one `fit`.
        epochs, steps_per_epoch: the run's length.
        first_epoch, first_step: where the run starts (a resumed run: where its backup was).
        **fit_options: more arguments of `fit` (e.g. `validation_data`).
    """
    callbacks = OneTraining([*callbacks, StepProgbar()], add_history=True, model=model,
                            verbose="auto", epochs=epochs, steps=steps_per_epoch)
    callbacks.begin()
    for epoch in range(first_epoch, epochs):
        skipped = first_step if epoch == first_epoch else 0
        steps = steps_per_epoch - skipped
        callbacks.set_params({"verbose": "auto", "epochs": epochs, "steps": steps})
        if not steps:  # backed up after the epoch's last step, before its end: run the end
            end_epoch(model, epoch, callbacks, fit_options.get("validation_data"))
            continue
        batches = train_data(first_epoch=epoch, epochs=epoch + 1, first_step=skipped)
        model.fit(batches.apply(tf.data.experimental.assert_cardinality(steps)),
                  initial_epoch=epoch, epochs=epoch + 1, callbacks=callbacks, **fit_options)
        if model.stop_training:
            break
    callbacks.end()
    return model.history


def end_epoch(model, epoch, callbacks, validation_data=None):
    """What `fit` does at the end of an epoch, for one whose steps were all done before a
    resume: its evaluation (if any) and the callbacks' `on_epoch_end`."""
    callbacks.on_epoch_begin(epoch)
    logs = {}
    if validation_data is not None:
        results = model.evaluate(validation_data, callbacks=callbacks, return_dict=True)
        logs = {f"val_{name}": value for name, value in results.items()}
    callbacks.on_epoch_end(epoch, logs)
