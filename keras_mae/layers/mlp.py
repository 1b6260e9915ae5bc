"""The transformer's two-layer MLP with exact GELU, as timm's `Mlp`."""

import math

import keras
from keras import ops

from keras_mae.layers.initializers import linear_init


def gelu(x):
    """Exact GELU by the reference's formula, x * (1 + erf(x / sqrt 2)) / 2. Keras' "gelu" is
    the same function as x * erfc(-x / sqrt 2) / 2, but under XLA erfc takes two branches where
    erf is one polynomial (faster, and less memory kept for the backward pass)."""
    return x * 0.5 * (1.0 + ops.erf(x * math.sqrt(0.5)))


@keras.saving.register_keras_serializable(package="keras_mae")
class Mlp(keras.layers.Layer):
    """fc2(gelu(fc1(x))): [B, N, D] -> [B, N, D] through a hidden width `mlp_dim`.

    Args:
        hidden_dim: token width D.
        mlp_dim: the hidden layer's width (4 D in ViT).
    """

    def __init__(self, hidden_dim, mlp_dim, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.mlp_dim = mlp_dim

    def build(self, input_shape):
        self.fc1 = keras.layers.Dense(
            self.mlp_dim, activation=gelu, name="fc1", dtype=self.dtype_policy, **linear_init()
        )
        self.fc1.build(input_shape)
        self.fc2 = keras.layers.Dense(
            self.hidden_dim, name="fc2", dtype=self.dtype_policy, **linear_init()
        )
        self.fc2.build((*input_shape[:-1], self.mlp_dim))

    def call(self, x):
        return self.fc2(self.fc1(x))

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim, "mlp_dim": self.mlp_dim}
