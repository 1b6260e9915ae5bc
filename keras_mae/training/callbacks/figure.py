"""`ReconstructionFigure`: the paper's figure of a fixed batch during training, as a TensorBoard
image and a PNG, so that a run can be judged by eye while it trains."""

import keras
import tensorflow as tf

from keras_mae.visualize import reconstruction_figure, save_png


class ReconstructionFigure(keras.callbacks.Callback):
    """Every `every_n_epochs` epochs and after the last, draws original | masked |
    reconstruction | reconstruction + visible for `images` (normalised, with fixed `noise` so
    that epochs compare on the same masks), writes it to `png_path` and logs it to TensorBoard
    under `log_dir` (tag "reconstructions", step = epoch)."""

    def __init__(self, images, data_mean, data_std, png_path=None, log_dir=None,
                 every_n_epochs=1, noise=None):
        super().__init__()
        self.images = images
        self.noise = noise
        self.data_mean = data_mean
        self.data_std = data_std
        self.png_path = png_path
        self.every_n_epochs = every_n_epochs
        self._writer = tf.summary.create_file_writer(str(log_dir)) if log_dir else None

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every_n_epochs and done != self.params.get("epochs"):
            return
        grid = reconstruction_figure(
            self.model, self.images, self.data_mean, self.data_std, self.noise
        )
        if self.png_path:
            save_png(grid, self.png_path)
        if self._writer is not None:
            with self._writer.as_default():
                tf.summary.image("reconstructions", grid[None], step=done)
            self._writer.flush()
