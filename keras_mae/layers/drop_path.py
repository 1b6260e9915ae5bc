"""Stochastic depth per sample (timm's `DropPath`), for fine-tuning.

keras-cv has this layer too, but importing keras-cv would cost every model user its memory and
import time.
"""

import keras
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
        keep = keras.random.uniform(shape, seed=self.seed_generator) >= self.rate
        return x * ops.cast(keep, x.dtype) / (1.0 - self.rate)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
