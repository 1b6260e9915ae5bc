"""The pre-norm ViT block of the reference (timm `Block`): x + MSA(LN(x)), then x + MLP(LN(x))."""

import keras

from keras_mae.layers.attention import MultiHeadSelfAttention
from keras_mae.layers.drop_path import DropPath
from keras_mae.layers.initializers import layer_norm
from keras_mae.layers.mlp import Mlp


@keras.saving.register_keras_serializable(package="keras_mae")
class TransformerBlock(keras.layers.Layer):
    """One pre-norm transformer block: [B, N, D] -> [B, N, D].

    Args:
        hidden_dim: token width D.
        num_heads: attention heads.
        mlp_dim: the MLP's hidden width.
        layer_norm_epsilon: LayerNorm epsilon (the reference: 1e-6).
        drop_path_rate: stochastic depth of both residual branches while training (fine-tuning;
            pretraining uses none).
        remat: recompute the block's activations in the backward pass instead of keeping them
            from the forward (less memory, one more forward pass of the block).
    """

    def __init__(self, hidden_dim, num_heads, mlp_dim, layer_norm_epsilon=1e-6,
                 drop_path_rate=0.0, remat=False, **kwargs):
        super().__init__(**kwargs)
        if remat and drop_path_rate:
            raise ValueError(
                "remat and drop_path_rate > 0 do not go together: the recomputation would draw "
                "other drop-path masks than the forward pass. Use one or the other."
            )
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.layer_norm_epsilon = layer_norm_epsilon
        self.drop_path_rate = drop_path_rate
        self.remat = remat

    def build(self, input_shape):
        self.norm1 = layer_norm(self.layer_norm_epsilon, "norm1", self.dtype_policy)
        self.attn = MultiHeadSelfAttention(
            self.hidden_dim, self.num_heads, name="attn", dtype=self.dtype_policy
        )
        self.norm2 = layer_norm(self.layer_norm_epsilon, "norm2", self.dtype_policy)
        self.mlp = Mlp(self.hidden_dim, self.mlp_dim, name="mlp", dtype=self.dtype_policy)
        for layer in (self.norm1, self.attn, self.norm2, self.mlp):
            layer.build(input_shape)
        self.drop_path = (
            DropPath(self.drop_path_rate, name="drop_path", dtype=self.dtype_policy)
            if self.drop_path_rate else keras.layers.Identity(name="drop_path")
        )

    def call(self, x, training=False):
        if self.remat:
            return keras.remat(lambda tokens: self._residual_branches(tokens, training))(x)
        return self._residual_branches(x, training)

    def _residual_branches(self, x, training):
        x = x + self.drop_path(self.attn(self.norm1(x)), training=training)
        return x + self.drop_path(self.mlp(self.norm2(x)), training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "num_heads": self.num_heads,
            "mlp_dim": self.mlp_dim,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "drop_path_rate": self.drop_path_rate,
            "remat": self.remat,
        }


def build_blocks(num_layers, hidden_dim, num_heads, mlp_dim, layer_norm_epsilon, token_shape,
                 dtype, drop_path_rate=0.0, remat=False):
    """`num_layers` built blocks named block_0..; stochastic depth rises linearly from 0 at the
    first block to `drop_path_rate` at the last, as timm's ViT."""
    blocks = []
    for index in range(num_layers):
        block = TransformerBlock(
            hidden_dim, num_heads, mlp_dim, layer_norm_epsilon,
            drop_path_rate=drop_path_rate * index / max(num_layers - 1, 1),
            remat=remat, name=f"block_{index}", dtype=dtype,
        )
        block.build(token_shape)
        blocks.append(block)
    return blocks
