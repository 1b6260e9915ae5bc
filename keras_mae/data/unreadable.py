"""Finding the image files TensorFlow cannot decode (corrupt, truncated, not an image, gone).

The input pipeline decodes with no per-file safety net, which costs nothing; when it fails, this
decodes every file of the source once, in parallel, to name all the bad ones at the same time.
"""

import re

import numpy as np
import tensorflow as tf

from keras_mae.data.sources import decode_file


def find_unreadable(files):
    """The files that cannot be read and decoded as an image, each decoded once, in parallel.

    Args:
        files: image file paths, e.g. `ImageSource.files`.

    Returns:
        A list of (file, reason) pairs, in the order of `files`; [] when all decode.
    """
    if not files:
        return []

    def decodes(file):
        decoded = tf.data.Dataset.from_tensors(file).map(
            lambda f: tf.shape(decode_file(f, 3))[0] >= 0
        ).ignore_errors()
        return decoded.concatenate(tf.data.Dataset.from_tensors(False)).take(1)

    checks = tf.data.Dataset.from_tensor_slices(list(files)).interleave(
        decodes, cycle_length=16, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    readable = np.concatenate([batch.numpy() for batch in checks.batch(4096)])
    return [(files[i], _reason(files[i])) for i in np.flatnonzero(~readable)]


def unreadable_summary(unreadable, shown=3):
    """"N image file(s) cannot be decoded: <file> (<reason>); ..." for `find_unreadable`'s
    list, naming the first `shown` files."""
    names = "; ".join(f"{file} ({reason})" for file, reason in unreadable[:shown])
    return f"{len(unreadable)} image file(s) cannot be decoded: {names}"


def _reason(file):
    """TensorFlow's message for `file`, without its op and device decorations."""
    try:
        decode_file(tf.constant(file), 3)
    except tf.errors.OpError as error:
        message = re.sub(r"\{\{.*?\}\}|\[Op:.*", "", error.message)
        return " ".join(message.split()) or type(error).__name__
    return "decodes now (was it replaced during the run?)"
