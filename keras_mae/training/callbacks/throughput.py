"""Training speed per epoch, in images per second, into the epoch's logs (so into the history
and TensorBoard): the figure to compare designs and machines on."""

import time

from keras_mae.training.callbacks.steps import ExecutionSteps


class TrainingThroughput(ExecutionSteps):
    """Logs `train_images_per_sec` at each epoch's end: the images of the epoch's steps after
    its first execution (which may compile the step or wait for the input pipeline) over their
    time. With `steps_per_execution` N, Keras reports one batch per execution: each counts N
    steps, the epoch's last only up to the epoch's end (`ExecutionSteps`).

    Args:
        global_batch_size: images per training step, over all replicas.
    """

    def __init__(self, global_batch_size):
        super().__init__()
        self.global_batch_size = global_batch_size
        self._start = None
        self._steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._steps = None, 0

    def on_train_batch_end(self, batch, logs=None):
        if self._start is None:
            self._start = time.perf_counter()
        else:
            self._steps += self.steps_done - self._first_step

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._steps:
            elapsed = time.perf_counter() - self._start
            logs["train_images_per_sec"] = self._steps * self.global_batch_size / elapsed
