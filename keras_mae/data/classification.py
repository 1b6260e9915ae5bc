"""Labelled input pipelines for the paper's evaluations (appendix A.2, A.3).

Fine-tuning: RandomResizedCrop (area 0.08-1) and flip, timm's RandAugment
('rand-m9-mstd0.5-inc1'), normalisation,
random erasing (p 0.25), then mixup (0.8) or cutmix (1.0) per group of 32 images on
label-smoothed targets, as timm's `Mixup` in batch mode on each GPU's batch.
Linear probing: crop (the reference's `util/crop.py` sampler) and flip only. Held-out images:
resized so that a centre crop of `crop_fraction` of the shorter side fills the model's input
(ImageNet's 224 of 256).
Batches are (images [B, H, W, C] normalised, targets [B, classes] summing to 1).
"""

import tensorflow as tf
from absl import logging

from keras_mae.data.augment import random_resized_crop
from keras_mae.data.erasing import random_erasing
from keras_mae.data.mixing import REFERENCE_GROUP_SIZE, mix_batch
from keras_mae.data.normalization import PixelNormalization
from keras_mae.data.pipeline import epoch_examples, shard_by_batch
from keras_mae.data.rand_augment import REFERENCE_POLICY, parse_policy, rand_augment
from keras_mae.data.worker_share import kept_by, where_kept
from keras_mae.errors import InputError

KERAS_CV = "keras_cv"  # keras-cv's RandAugment layer (10 ops, each with p 10/11), as an option


def centre_crop(image, size, crop_fraction):
    """Resize (bicubic, keeping the aspect ratio) so that the centre `crop_fraction` of the
    image covers `size`, then crop that centre: the reference's Resize(256) + CenterCrop(224)."""
    height, width = size
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.reduce_max(tf.constant([height, width], tf.float32) / (crop_fraction * shape))
    scaled = tf.maximum(tf.cast(tf.round(shape * scale), tf.int32), [height, width])
    resized = tf.image.resize(tf.cast(image, tf.float32), scaled, method="bicubic", antialias=True)
    crop = tf.image.crop_to_bounding_box(
        resized, (scaled[0] - height) // 2, (scaled[1] - width) // 2, height, width
    )
    return tf.clip_by_value(crop, 0.0, 255.0)


def make_classification_dataset(
    source, image_size, mean, std, batch_size, training, seed=0, crop_scale=(0.08, 1.0),
    rand_augment_policy=REFERENCE_POLICY, erase_probability=0.25, mixup_alpha=0.8,
    cutmix_alpha=1.0, label_smoothing=0.1, crop_fraction=0.875, first_epoch=0, epochs=1,
    steps_per_epoch=None, mixup_prob=1.0, mixup_switch_prob=0.5, cutmix_minmax=None,
    crop_sampler="torchvision", mix_group_size=REFERENCE_GROUP_SIZE, first_step=0, share=None,
):
    """An `ImageSource` with labels -> batches of (normalised images, soft targets).

    Training yields `steps_per_epoch` batches (default: every full batch) for each epoch from
    `first_epoch` (from its step `first_step`) to `epochs`, in a new order each epoch; the crop,
    flip, RandAugment and erasing of each image and the mixing of each batch are seeded by
    (seed, position in the run) (keras-cv's RandAugment, `rand_augment_policy="keras_cv"`,
    draws from its own generator). RandAugment, erasing, mixing and label smoothing are the
    fine-tuning recipe; all off is the probing recipe.

    Args:
        source: an `ImageSource` with class names (labels 0 .. classes - 1).
        image_size: (height, width) the model takes.
        mean: the per-channel mean of the data in 0..1.
        std: the per-channel standard deviation of the data in 0..1.
        batch_size: global batch size.
        training: augmented training epochs (True), or the held-out images centre-cropped,
            once, in order (False).
        seed: seeds the order, every augmentation and the mixing.
        crop_scale: the crop's area range (fine-tuning: 0.08-1).
        rand_augment_policy: a timm policy string, "keras_cv", or "" for none.
        erase_probability: random erasing's probability per image (0: off).
        mixup_alpha: MixUp's Beta parameter (0: off).
        cutmix_alpha: CutMix's Beta parameter (0: off).
        label_smoothing: the targets' smoothing (0: one-hot).
        crop_fraction: held-out images: the centre crop's share of the shorter side.
        first_epoch: the first training epoch the dataset yields.
        epochs: the epoch the training dataset ends before.
        steps_per_epoch: batches per epoch (default: every full batch of the source).
        mixup_prob: see `keras_mae.data.mixing.mix_batch`.
        mixup_switch_prob: see `keras_mae.data.mixing.mix_batch`.
        cutmix_minmax: see `keras_mae.data.mixing.mix_batch`.
        crop_sampler: "torchvision" (RandomResizedCrop) or "probe" (the reference's
            `util/crop.py`); see `keras_mae.data.augment`.
        mix_group_size: see `keras_mae.data.mixing.mix_batch`.
        first_step: the steps of `first_epoch` left out (a run resumed mid-epoch ran them).
        share: a `WorkerShare`: training reads and augments only this worker's images, zeros
            elsewhere, unless mixing groups would span workers' images (see
            `keras_mae.data.worker_share`).

    Returns:
        A `tf.data.Dataset` of (float32 images [B, H, W, C], float32 targets [B, classes]
        summing to 1).

    Raises:
        InputError: `source` has no labels.
    """
    if not source.num_classes:
        raise InputError(
            "Classification needs labelled images: a folder with one subfolder per class, or a "
            "TFDS data set with labels."
        )
    num_classes = source.num_classes
    image_size = tuple(image_size)
    normalization = PixelNormalization(mean, std)
    if not training:
        dataset = source.dataset.map(
            lambda image, label: (
                normalization.normalize(centre_crop(image, image_size, crop_fraction)),
                tf.one_hot(label, num_classes),
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        return shard_by_batch(dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE))

    randaugment = _rand_augment(rand_augment_policy, mean, seed)

    mixing = bool(mixup_alpha or cutmix_alpha or cutmix_minmax)
    if share and mixing and (batch_size // share.replicas) % mix_group_size:
        logging.warning(
            "Each worker reads every training image: mixing groups of %d images span the "
            "replicas' batches of %d. A replica batch that is a multiple of "
            "--config.augment.mix_group_size lets each read its own only.",
            mix_group_size, batch_size // share.replicas)
        share = None
    keep = kept_by(share, batch_size)

    def augmented(image, position):
        seeds = tf.stack([tf.cast(seed, tf.int64), position])
        crop_seed, flip_seed, erase_seed, augment_seed = tf.unstack(
            tf.random.experimental.stateless_split(seeds, 4))
        image = random_resized_crop(image, crop_seed, image_size, crop_scale, sampler=crop_sampler)
        image = tf.image.stateless_random_flip_left_right(image, flip_seed)
        if randaugment is not None:
            image = randaugment(image, augment_seed)
        image = normalization.normalize(image)
        if erase_probability:
            image = random_erasing(image, erase_seed, erase_probability)
        return image

    def augment(image, label, position):
        image = where_kept(keep, position, lambda: augmented(image, position),
                           lambda: tf.zeros(image_size + (len(mean),), tf.float32))
        target = tf.one_hot(label, num_classes) * (1 - label_smoothing) + label_smoothing / num_classes
        return image, target, position

    steps_per_epoch = steps_per_epoch or source.num_examples // batch_size
    dataset = epoch_examples(source, seed, first_epoch, epochs, steps_per_epoch * batch_size,
                             first_example=first_step * batch_size, keep=keep)
    dataset = dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size, drop_remainder=True)

    def mix(images, targets, positions):  # seeded by the batch's place in the run
        seeds = tf.stack([tf.cast(seed, tf.int64), -1 - positions[0]])
        return mix_batch(images, targets, seeds, mixup_alpha, cutmix_alpha, mixup_prob,
                         mixup_switch_prob, cutmix_minmax, mix_group_size)

    dataset = dataset.map(mix, num_parallel_calls=tf.data.AUTOTUNE)
    return shard_by_batch(dataset.prefetch(tf.data.AUTOTUNE))


def _rand_augment(policy, mean, seed):
    """(image 0..255 [H, W, C], seed) -> image, for a timm policy string, "keras_cv" (keras-cv's
    layer, magnitude 9 std 0.5, through RGB for grey images), or None for "" (off)."""
    if not policy:
        return None
    if policy != KERAS_CV:
        parsed = parse_policy(policy)
        return lambda image, image_seed: rand_augment(image, image_seed, parsed, mean)
    import keras_cv  # here, not at the top: only this option pays for importing it

    layer = keras_cv.layers.RandAugment(value_range=(0, 255), augmentations_per_image=2,
                                        magnitude=0.9, magnitude_stddev=0.05, seed=seed)

    def keras_cv_rand_augment(image, _):
        if image.shape[-1] == 3:
            return layer(image)
        return tf.image.rgb_to_grayscale(layer(tf.image.grayscale_to_rgb(image)))

    return keras_cv_rand_augment
