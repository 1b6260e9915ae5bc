"""The paper's pretraining augmentation (appendix A.1): RandomResizedCrop(scale 0.2-1, bicubic)
and a horizontal flip, stateless so that a seed fixes every crop.

Written with `tf.image` rather than keras-cv's `RandomCropAndResize`, which only resizes
bilinearly; the reference resizes bicubically.
"""

import tensorflow as tf


def random_resized_crop(image, seed, size, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3)):
    """Crop a random area fraction `scale` and aspect `ratio` of `image`, resize to `size`."""
    begin, extent, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.zeros([1, 0, 4]),
        seed=seed,
        min_object_covered=0.0,  # TF's default, 0.1, would cut the area range at 10%
        area_range=scale,
        aspect_ratio_range=ratio,
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    crop = tf.slice(image, begin, extent)
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
