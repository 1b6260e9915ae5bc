"""The tf.data input pipeline of pretraining: epochs of shuffled examples, augment (or resize),
normalise, batch, prefetch.

Every random choice is a function of (seed, epoch, position), never of the process's history:
a run resumed from a backup at epoch e reads exactly what the uninterrupted run read from e on.
"""

import functools

import tensorflow as tf

from keras_mae.data.augment import pretraining_augment, resize
from keras_mae.data.normalization import PixelNormalization
from keras_mae.data.worker_share import kept_by, placeholder_like, where_kept


def epoch_examples(source, seed, first_epoch, last_epoch, examples_per_epoch,
                   shuffle_buffer=10_000, first_example=0, keep=None):
    """The examples of epochs [first_epoch, last_epoch), `examples_per_epoch` each, from the
    `first_example`-th of the first (those before it were read before a resume), as
    (image, label, position) with position = epoch x examples_per_epoch + index in the epoch.

    Sources with random access draw a new permutation of all their examples every epoch (the
    reference's full reshuffle); the others (TFDS stored as TFRecord) read in an order drawn
    per epoch (`source.epoch_order`) through a buffer seeded per epoch. Where `keep(position)`
    is false, sources with random access read nothing and give a zero placeholder.
    """
    per_epoch = examples_per_epoch
    positions = tf.data.Dataset.range(first_epoch * per_epoch + first_example,
                                      last_epoch * per_epoch)
    if source.read is not None:
        size = source.num_examples

        def example(position):
            epoch, index = position // per_epoch, position % per_epoch
            # An epoch longer than the source (steps_per_epoch) runs through new permutations.
            permutation_seed = tf.random.experimental.stateless_fold_in(
                tf.stack([tf.cast(seed, tf.int64), epoch]), index // size)
            shuffled = tf.random.experimental.index_shuffle(
                index % size, seed=permutation_seed, max_index=tf.constant(size - 1, tf.int64))
            return (*where_kept(keep, position, lambda: source.read(shuffled),
                                lambda: placeholder_like(source.dataset.element_spec)), position)

        return positions.map(example, num_parallel_calls=tf.data.AUTOTUNE)

    def one_epoch(epoch):  # a Python int: tf.data takes no tensor seed once a global seed is set
        epoch_seed = tf.constant([seed, epoch], tf.int64)
        examples = source.epoch_order(epoch_seed) if source.epoch_order else source.dataset
        return examples.shuffle(
            shuffle_buffer, seed=seed * 1_000_003 + epoch, reshuffle_each_iteration=False,
        ).repeat().take(per_epoch)

    epochs = [one_epoch(epoch) for epoch in range(first_epoch, last_epoch)]
    examples = functools.reduce(tf.data.Dataset.concatenate, epochs).skip(first_example)
    return tf.data.Dataset.zip((examples, positions)).map(
        lambda pair, position: (*pair, position)
    )


def make_dataset(source, image_size, mean, std, batch_size, training=True, seed=0,
                 crop_scale=(0.2, 1.0), drop_remainder=None, first_epoch=0, epochs=1,
                 steps_per_epoch=None, first_step=0, share=None):
    """Batches of normalised images for pretraining (`MaskedAutoencoder.fit`).

    Training yields `steps_per_epoch` batches (default: every full batch of the source) for
    each epoch from `first_epoch` to `epochs`, a new order and new augmentations each epoch,
    the crop and flip of each image seeded by (seed, its position in the run). Held-out data is
    resized and read once, in order.

    Args:
        source: an `ImageSource` (see `from_folder`, `from_tfds`, `from_arrays`).
        image_size: (height, width) the model takes.
        mean: the per-channel mean of the data in 0..1 (one value, or one per channel).
        std: the per-channel standard deviation of the data in 0..1.
        batch_size: global batch size.
        training: augmented epochs (True) or the held-out pass (False).
        seed: seeds the order and every crop and flip.
        crop_scale: RandomResizedCrop area range (the paper: 0.2-1).
        drop_remainder: drop a last partial batch (default: when training).
        first_epoch: the first training epoch the dataset yields (a resumed run starts at its
            backup's epoch).
        epochs: the epoch the training dataset ends before.
        steps_per_epoch: batches per epoch (default: every full batch of the source).
        first_step: the steps of `first_epoch` left out (a run resumed mid-epoch ran them).
        share: a `WorkerShare`: training reads and augments only this worker's images, zeros
            elsewhere (see `keras_mae.data.worker_share`).

    Returns:
        A `tf.data.Dataset` of float32 [B, H, W, C] batches, B = `batch_size`.
    """
    normalization = PixelNormalization(mean, std)
    image_size = tuple(image_size)
    if training:
        steps_per_epoch = steps_per_epoch or source.num_examples // batch_size
        keep = kept_by(share, batch_size)
        examples = epoch_examples(source, seed, first_epoch, epochs,
                                  steps_per_epoch * batch_size,
                                  first_example=first_step * batch_size, keep=keep)

        def augment(image, label, position):
            def augmented():
                seeds = tf.stack([tf.cast(seed, tf.int64), position])
                return normalization.normalize(
                    pretraining_augment(image, seeds, image_size, crop_scale))
            return where_kept(keep, position, augmented,
                              lambda: tf.zeros(image_size + (len(mean),), tf.float32))

        dataset = examples.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = source.dataset.map(
            lambda image, label: normalization.normalize(resize(image, image_size)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    drop_remainder = training if drop_remainder is None else drop_remainder
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
    return shard_by_batch(dataset)


def labelled_batches(source, image_size, mean, std, batch_size, count=0, seed=0):
    """Labelled batches of `source`, resized without augmentation: all of it in order, or a
    fixed random subset of `count` examples (e.g. a k-NN memory bank).

    Args:
        source: an `ImageSource`.
        image_size: (height, width) the model takes.
        mean: the per-channel mean of the data in 0..1.
        std: the per-channel standard deviation of the data in 0..1.
        batch_size: images per batch (the last may be smaller).
        count: the size of the subset; 0: every example.
        seed: which subset.

    Returns:
        A `tf.data.Dataset` of (float32 images [B, H, W, C], int64 labels [B]).
    """
    normalization = PixelNormalization(mean, std)
    dataset = source.subset(count, seed) if count else source.dataset
    dataset = dataset.map(
        lambda image, label: (normalization.normalize(resize(image, tuple(image_size))), label),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def shard_by_batch(dataset):
    """Multi-worker runs split `dataset` by batches (each worker keeps every N-th), whatever
    it reads from: file-based sharding does not apply to in-memory file lists and arrays."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
