"""Where a run is in its data, so that a backup taken inside an epoch resumes at the next
example (the data order is a function of (seed, epoch, position): a resumed run skips what it
had read)."""

from keras_mae.training.callbacks.steps import ExecutionSteps


class DataPosition(ExecutionSteps):
    """The epoch under way (`epoch`) and how many of its steps are done (`step`).

    Keras numbers an epoch's steps from the start of its `fit` (a resumed epoch's `fit` starts
    at the step it resumed at, see `training.epochs`) and reports each execution of
    `steps_per_execution` steps once (`ExecutionSteps` counts them). First among the callbacks, so that every later one (a backup on Ctrl-C) sees
    the steps just done.

    Args:
        epoch, step: where the run starts (a resumed run: where its backup was taken).
    """

    def __init__(self, epoch=0, step=0):
        super().__init__()
        self.epoch, self.step = epoch, step
        self._skipped = step  # the steps of this epoch done before its `fit`

    def on_epoch_begin(self, epoch, logs=None):
        if epoch != self.epoch:
            self.epoch, self.step = epoch, 0
        self._skipped = self.step

    def on_train_batch_end(self, batch, logs=None):
        self.step = self._skipped + self.steps_done

    def on_epoch_end(self, epoch, logs=None):
        self.epoch, self.step = epoch + 1, 0
