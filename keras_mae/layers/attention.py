"""Multi-head self-attention with one fused qkv projection, as timm's `Attention`."""

import keras
from keras import ops

from keras_mae.layers.initializers import linear_init


@keras.saving.register_keras_serializable(package="keras_mae")
class MultiHeadSelfAttention(keras.layers.Layer):
    """[B, N, D] -> [B, N, D]. Attention logits and softmax run in float32 under mixed precision.

    Args:
        hidden_dim: token width D.
        num_heads: attention heads; must divide `hidden_dim`.
    """

    def __init__(self, hidden_dim, num_heads, **kwargs):
        super().__init__(**kwargs)
        if hidden_dim % num_heads:
            raise ValueError(f"hidden_dim {hidden_dim} is not divisible by num_heads {num_heads}.")
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads

    def build(self, input_shape):
        self.qkv = keras.layers.Dense(
            3 * self.hidden_dim, name="qkv", dtype=self.dtype_policy, **linear_init()
        )
        self.qkv.build(input_shape)
        self.proj = keras.layers.Dense(
            self.hidden_dim, name="proj", dtype=self.dtype_policy, **linear_init()
        )
        self.proj.build(input_shape)

    def call(self, x):
        head_dim = self.hidden_dim // self.num_heads
        qkv = ops.reshape(self.qkv(x), (-1, x.shape[1], 3, self.num_heads, head_dim))
        query, key, value = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        logits = ops.einsum("bqhd,bkhd->bhqk", query * head_dim**-0.5, key)
        weights = ops.cast(ops.softmax(ops.cast(logits, "float32"), axis=-1), x.dtype)
        out = ops.einsum("bhqk,bkhd->bqhd", weights, value)
        return self.proj(ops.reshape(out, (-1, x.shape[1], self.hidden_dim)))

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim, "num_heads": self.num_heads}
