"""Stochastic depth per sample (timm's `DropPath`), for fine-tuning.

keras-cv has this layer too, but importing keras-cv would cost every model user its memory and
import time.
"""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="keras_mae")
class DropPath(keras.layers.Layer):
    """While training, zero a residual branch for a random `rate` of the samples and scale the
    others by 1 / (1 - rate); the identity otherwise.

    Args:
        rate: probability of dropping a sample's branch.
        seed: seed of the drop masks.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training or not self.rate:
            return x
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        seed = per_replica(as_int32(self.seed_generator.next()))
        keep = tf.random.stateless_uniform(shape, seed=seed) >= self.rate
        return x * ops.cast(keep, x.dtype) / (1.0 - self.rate)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def as_int32(seed):
    """A generator's seed as the int32 pair stateless ops take, mapped as `keras.random` maps
    it, so that one device draws exactly the masks `keras.random.uniform` would."""
    if seed.dtype == tf.int32:
        return seed
    return tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)


def per_replica(seed):
    """`seed` folded with the replica's id when a step runs on several replicas, so that they
    drop different samples' branches, as the reference's processes (each seeded by its rank)
    do; unchanged on one device. The generator's state is mirrored, hence the same everywhere."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return seed
    return tf.random.experimental.stateless_fold_in(
        seed, context.replica_id_in_sync_group, alg="philox"
    )
