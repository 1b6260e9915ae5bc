"""The plain user path as a contestant: what a newcomer writes (`from_preset`, `compile()` with
its defaults, `fit` on a tf.data set of images), its steps timed by a callback."""

import time

import keras
import tensorflow as tf

from bench_common import preset_architecture
from keras_mae import MaskedAutoencoder
from rounds import counting_traces, random_images


class StepTimer(keras.callbacks.Callback):
    """(wall, CPU) ms of every training batch; reading the step's loss at its end waits for the
    step to finish."""

    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter(), time.process_time()

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))
        self.wall.append((time.perf_counter() - self.start[0]) * 1000)
        self.cpu.append((time.process_time() - self.start[1]) * 1000)


class UserPathContestant:
    """keras_mae trained as the README's Python example does: no train.py, no options."""

    mode = "train"

    def __init__(self, preset, batch, warmup=2, overrides=None):
        self.traces = 0
        self.model = MaskedAutoencoder.from_preset(preset, **(overrides or {}))
        self.model.compile()  # the library's defaults: XLA where it works, the paper's AdamW
        self.model.train_step = counting_traces(self, self.model.train_step)
        images = random_images(preset_architecture(preset, **(overrides or {})), 4 * batch)
        self.dataset = tf.data.Dataset.from_tensor_slices(images).repeat().batch(batch)
        self.timer = StepTimer()
        self.losses = self.timer.losses = []
        self.initial_iterations = 0
        self.round(warmup)

    @property
    def iterations(self):
        return int(self.model.optimizer.iterations)

    def round(self, steps):
        """`fit` for `steps` batches: ([wall ms], [CPU ms]) of each."""
        self.timer.wall, self.timer.cpu = [], []
        self.model.fit(self.dataset, epochs=1, steps_per_epoch=steps, callbacks=[self.timer],
                       verbose=0)
        return self.timer.wall, self.timer.cpu
