"""The tf.data input pipeline: augment (or resize), normalise, batch, prefetch."""

import tensorflow as tf

from keras_mae.data.augment import pretraining_augment, resize


def make_dataset(source, image_size, mean, std, batch_size, training=True, seed=0,
                 crop_scale=(0.2, 1.0), drop_remainder=None, shuffle_buffer=10_000):
    """An `ImageSource` -> batches of normalised float32 images [B, H, W, C].

    Training shuffles, repeats nothing (Keras' epochs iterate it again), draws new augmentations
    each epoch and drops the last partial batch so that shapes stay static for XLA.
    """
    mean = tf.constant(mean, tf.float32) * 255.0
    std = tf.constant(std, tf.float32) * 255.0
    image_size = tuple(image_size)
    dataset = source.dataset
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            lambda pair, s: (pretraining_augment(pair[0], s, image_size, crop_scale), pair[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    else:
        dataset = dataset.map(
            lambda image, label: (resize(image, image_size), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    dataset = dataset.map(
        lambda image, label: (image - mean) / std, num_parallel_calls=tf.data.AUTOTUNE
    )
    drop_remainder = training if drop_remainder is None else drop_remainder
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
    return shard_by_batch(dataset)


def shard_by_batch(dataset):
    """Multi-worker runs split `dataset` by batches (each worker keeps every N-th), whatever
    it reads from: file-based sharding does not apply to in-memory file lists and arrays."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
