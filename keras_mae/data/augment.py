"""The paper's crops (appendix A.1-A.3): RandomResizedCrop (bicubic) and a horizontal flip,
stateless so that a seed fixes every crop.

The box is drawn as the reference draws it: pretraining and fine-tuning as torchvision's
`RandomResizedCrop.get_params` (timm's `RandomResizedCropAndInterpolation` draws the same),
the linear probe as the reference's `util/crop.py` (one draw clamped to the image). TF's
`sample_distorted_bounding_box` draws the side and a uniform aspect instead, and gives smaller
crops. Resized with `tf.image` rather than keras-cv's `RandomCropAndResize`, which only resizes
bilinearly; the reference resizes bicubically.
"""

import math

import tensorflow as tf

CROP_TRIES = 10  # torchvision's attempts before the centre-crop fallback


def crop_box(height, width, uniforms, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision's RandomResizedCrop box: of `CROP_TRIES` draws (area uniform in `scale` of the
    image, aspect w/h log-uniform in `ratio`, sides rounded), the first that fits, placed
    uniformly; if none fits, the centre crop of the aspect clamped to `ratio`.

    uniforms [CROP_TRIES, 4] float64 in [0, 1): per try (area, aspect, top, left).
    Returns int32 (top, left, box height, box width).
    """
    height, width = tf.cast(height, tf.float64), tf.cast(width, tf.float64)
    box_w, box_h = box_sides(height * width, uniforms[:, 0], uniforms[:, 1], scale, ratio)
    fits = (box_w >= 1) & (box_w <= width) & (box_h >= 1) & (box_h <= height)
    first = first_true(fits)
    box_h, box_w, draws = box_h[first], box_w[first], uniforms[first]
    top, left = uniform_offset(draws[2], height - box_h), uniform_offset(draws[3], width - box_w)
    centre_h, centre_w = _centre_sides(height, width, ratio)
    found = tf.reduce_any(fits)
    box_h, box_w = tf.where(found, box_h, centre_h), tf.where(found, box_w, centre_w)
    top = tf.where(found, top, tf.floor((height - box_h) / 2))
    left = tf.where(found, left, tf.floor((width - box_w) / 2))
    return tuple(tf.cast(value, tf.int32) for value in (top, left, box_h, box_w))


def probe_crop_box(height, width, uniforms, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """The reference's linear-probe box (`util/crop.py`, after BYOL's TF code): one draw as
    torchvision's, its sides clamped to the image, no retry.

    uniforms [CROP_TRIES, 4] float64 in [0, 1); only the first row is used, so that both samplers
    take the same draws. Returns int32 (top, left, box height, box width).
    """
    height, width = tf.cast(height, tf.float64), tf.cast(width, tf.float64)
    draws = uniforms[0]
    box_w, box_h = box_sides(height * width, draws[0], draws[1], scale, ratio)
    box_w = tf.clip_by_value(box_w, 1.0, width)
    box_h = tf.clip_by_value(box_h, 1.0, height)
    top, left = uniform_offset(draws[2], height - box_h), uniform_offset(draws[3], width - box_w)
    return tuple(tf.cast(value, tf.int32) for value in (top, left, box_h, box_w))


CROP_SAMPLERS = {"torchvision": crop_box, "probe": probe_crop_box}


def box_sides(image_area, area_draw, aspect_draw, scale, ratio):
    """(sqrt(area x aspect), sqrt(area / aspect)) for an area uniform in `scale` x `image_area`
    and an aspect log-uniform in `ratio`, each rounded half to even as Python's `round`."""
    area = image_area * (scale[0] + area_draw * (scale[1] - scale[0]))
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    aspect = tf.exp(log_low + aspect_draw * (log_high - log_low))
    return tf.round(tf.sqrt(area * aspect)), tf.round(tf.sqrt(area / aspect))


def first_true(flags):
    """The index of the first true entry of `flags` [N] (the last index if none): the try a
    reference's retry loop would stop at."""
    count = tf.shape(flags)[0]
    return tf.reduce_min(tf.where(flags, tf.range(count), count - 1))


def uniform_offset(draw, room):
    """An integer uniform in [0, room] from a uniform draw in [0, 1), as `torch.randint` and
    Python's `random.randint`."""
    return tf.minimum(tf.floor(draw * (room + 1)), room)


def _centre_sides(height, width, ratio):
    """torchvision's fallback: the whole image, or its centre at the nearest aspect in `ratio`."""
    aspect = width / height
    narrow_h = tf.round(width / min(ratio))
    wide_w = tf.round(height * max(ratio))
    box_h = tf.where(aspect < min(ratio), narrow_h, height)
    box_w = tf.where(aspect > max(ratio), wide_w, width)
    return box_h, box_w


def random_resized_crop(image, seed, size, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3),
                        sampler="torchvision"):
    """Crop a box of `CROP_SAMPLERS[sampler]` (area fraction `scale`, aspect `ratio`) of `image`,
    seeded by `seed` [2], and resize it bicubically to `size`."""
    uniforms = tf.random.stateless_uniform([CROP_TRIES, 4], seed, dtype=tf.float64)
    shape = tf.shape(image)
    top, left, box_h, box_w = CROP_SAMPLERS[sampler](shape[0], shape[1], uniforms, scale, ratio)
    crop = tf.slice(image, [top, left, 0], [box_h, box_w, -1])
    resized = tf.clip_by_value(tf.image.resize(crop, size, method="bicubic", antialias=True), 0.0, 255.0)
    return tf.ensure_shape(resized, [*size, image.shape[-1]])


def pretraining_augment(image, seed, size, scale=(0.2, 1.0)):
    """uint8 [h, w, C] + seed [2] -> float32 [H, W, C] in 0..255, cropped, resized, maybe flipped."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    image = random_resized_crop(image, crop_seed, size, scale)
    return tf.image.stateless_random_flip_left_right(image, flip_seed)


def resize(image, size):
    """uint8 [h, w, C] -> float32 [H, W, C] in 0..255 (no-op resize when already that size)."""
    image = tf.cast(image, tf.float32)
    if image.shape[0] == size[0] and image.shape[1] == size[1]:
        return image
    return tf.clip_by_value(tf.image.resize(image, size, method="bicubic", antialias=True), 0.0, 255.0)
