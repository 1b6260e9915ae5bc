"""`python -m keras_mae.data.stats FOLDER [--num_channels=1]`: the per-channel mean and std of
a folder's images in 0..1, printed as the `data.mean`/`data.std` config lines to paste.

The images are read as training reads them (`from_folder`, converted to `--num_channels`), every
pixel of every image counted once; sums are exact integers, one image at a time, so that a folder
of any size streams through in constant memory and the figures do not depend on the order.
"""

import sys
import time

import numpy as np
import tensorflow as tf
from absl import flags

from keras_mae import cli
from keras_mae.data.sources import from_folder
from keras_mae.data.unreadable import find_unreadable, unreadable_summary
from keras_mae.errors import InputError

_NUM_CHANNELS = flags.DEFINE_enum(
    "num_channels", "3", ["1", "3"], "Channels the images are read with, as data.num_channels "
    "of the run: 1 for grey, 3 for colour (images of the other kind are converted).")
_PROGRESS_SECONDS = 10  # between two progress lines on stderr


def channel_stats(source, on_progress=None):
    """(mean, std) per channel in 0..1 over every pixel of `source`'s images (an `ImageSource`);
    `on_progress(images done, images in all)` is called after each batch of images read."""

    def sums(image, label):
        del label
        pixels = tf.cast(tf.reshape(image, [-1, tf.shape(image)[-1]]), tf.int64)
        return tf.shape(pixels, tf.int64)[0], tf.reduce_sum(pixels, 0), tf.reduce_sum(
            pixels * pixels, 0)

    count, total, squares, done = 0, 0, 0, 0
    per_image = source.dataset.map(sums, num_parallel_calls=tf.data.AUTOTUNE).batch(256)
    for counts, totals, square_totals in per_image.as_numpy_iterator():
        count += int(counts.sum())  # Python ints from here: exact whatever the folder's size
        total += totals.sum(0).astype(object)
        squares += square_totals.sum(0).astype(object)
        done += len(counts)
        if on_progress:
            on_progress(done, source.num_examples)
    mean = [t / count / 255 for t in total]
    variance = [(count * s - t * t) / count**2 for s, t in zip(squares, total)]
    return tuple(mean), tuple(float(np.sqrt(v)) / 255 for v in variance)


def folder_stats(folder, num_channels, on_progress=None, shown=3):
    """(number of images, mean, std) of the images of `folder` read with `num_channels`
    channels; undecodable files are refused in one line that names them."""
    source = from_folder(folder, num_channels)
    try:
        return (source.num_examples, *channel_stats(source, on_progress))
    except tf.errors.OpError:
        unreadable = find_unreadable(source.files)
        if not unreadable:
            raise
        more = f"; and {len(unreadable) - shown} more" if len(unreadable) > shown else ""
        raise InputError(f"{unreadable_summary(unreadable, shown)}{more}. Delete or replace "
                         "them, then run this again.") from None


def config_lines(num_channels, mean, std):
    """The command-line overrides and the config-file lines that set this normalisation."""
    return (f"--config.data.num_channels={num_channels} "
            f"--config.data.mean='{_as_tuple(mean)}' --config.data.std='{_as_tuple(std)}'\n"
            f"# or, in a config file:\n"
            f"config.data.num_channels = {num_channels}\n"
            f"config.data.mean = {_as_tuple(mean)}\n"
            f"config.data.std = {_as_tuple(std)}")


def _as_tuple(values):
    """Python's tuple syntax with 4 decimals: "(0.4914, 0.4822)", "(0.2860,)"."""
    return "(" + ", ".join(f"{v:.4f}" for v in values) + (",)" if len(values) == 1 else ")")


class ProgressLines:
    """`(done, total)` -> a line on stderr at most every `seconds`, for long folders."""

    def __init__(self, seconds=_PROGRESS_SECONDS):
        self.seconds, self.last = seconds, time.monotonic()

    def __call__(self, done, total):
        if time.monotonic() - self.last >= self.seconds and done < total:
            print(f"{done:,} of {total:,} images read", file=sys.stderr, flush=True)
            self.last = time.monotonic()


def main(argv):
    if len(argv) != 2:
        raise InputError("Name one image folder: python -m keras_mae.data.stats FOLDER "
                         "[--num_channels=1].")
    num_channels = int(_NUM_CHANNELS.value)
    count, mean, std = folder_stats(argv[1], num_channels, ProgressLines())
    print(f"# {count:,} images of {argv[1]}, {num_channels} channel(s), per-channel mean and "
          "std in 0..1:")
    print(config_lines(num_channels, mean, std))


if __name__ == "__main__":
    cli.run(main)
