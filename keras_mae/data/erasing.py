"""Random erasing as the reference fine-tunes with it (timm 0.3.2's `RandomErasing`, "pixel"
mode, one box): with `probability`, up to 10 draws of a box (area uniform in 2-33% of the image,
aspect h/w log-uniform in 0.3-1/0.3) until one lies strictly inside the image, whose pixels
become standard-normal noise; nothing is erased if no draw fits. Stateless, vectorised over the
tries."""

import tensorflow as tf

from keras_mae.data.augment import box_sides, first_true, uniform_offset

ERASE_TRIES = 10  # timm's attempts


def erasing_box(height, width, uniforms, area=(0.02, 1 / 3), aspect=(0.3, 1 / 0.3)):
    """timm's erasing box: the first of `ERASE_TRIES` draws with both sides under the image's,
    placed uniformly.

    uniforms [ERASE_TRIES, 4] float64 in [0, 1): per try (area, aspect, top, left).
    Returns int32 (top, left, box height, box width); (0, 0, 0, 0) when no draw fits.
    """
    height, width = tf.cast(height, tf.float64), tf.cast(width, tf.float64)
    box_h, box_w = box_sides(height * width, uniforms[:, 0], uniforms[:, 1], area, aspect)
    fits = (box_w < width) & (box_h < height)
    first = first_true(fits)
    box_h, box_w, draws = box_h[first], box_w[first], uniforms[first]
    top, left = uniform_offset(draws[2], height - box_h), uniform_offset(draws[3], width - box_w)
    found = tf.reduce_any(fits)
    return tuple(tf.cast(tf.where(found, value, 0.0), tf.int32)
                 for value in (top, left, box_h, box_w))


def random_erasing(image, seed, probability=0.25):
    """Normalised image [H, W, C] + seed [2] -> the image, with probability `probability` one
    box of it replaced by standard-normal noise per pixel and channel."""
    apply_seed, box_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    uniforms = tf.random.stateless_uniform([ERASE_TRIES, 4], box_seed, dtype=tf.float64)
    shape = tf.shape(image)
    top, left, box_h, box_w = erasing_box(shape[0], shape[1], uniforms)
    rows = tf.range(shape[0])[:, None, None]
    cols = tf.range(shape[1])[None, :, None]
    inside = (rows >= top) & (rows < top + box_h) & (cols >= left) & (cols < left + box_w)
    erase = inside & (tf.random.stateless_uniform([], apply_seed) < probability)
    return tf.where(erase, tf.random.stateless_normal(shape, noise_seed), image)
