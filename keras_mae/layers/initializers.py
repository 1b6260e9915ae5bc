"""The reference's weight initialisations (facebookresearch/mae `_init_weights`)."""

import keras


def linear_init():
    """nn.Linear as the reference initialises it: xavier-uniform weight, zero bias."""
    return {"kernel_initializer": "glorot_uniform", "bias_initializer": "zeros"}


def token_init():
    """cls and mask tokens: N(0, 0.02)."""
    return keras.initializers.RandomNormal(stddev=0.02)


def layer_norm(epsilon, name, dtype):
    """LayerNorm over the last axis, scale 1 and offset 0 (Keras' default, the reference's)."""
    return keras.layers.LayerNormalization(epsilon=epsilon, name=name, dtype=dtype)
