"""The light MAE decoder (section 3): it fills every removed position with a shared learned mask
token, restores patch order, adds its own sin-cos positions and predicts each patch's pixels.

For the paper's ablations it can also be BERT's trivial head (no block: one linear layer from
the encoder's width to pixels), and take every position from an encoder that already holds
mask tokens (the paper's "encoder w/ [M]")."""

import keras
from keras import ops

from keras_mae.layers.block import build_blocks
from keras_mae.layers.initializers import layer_norm, linear_init, token_init
from keras_mae.layers.masking import take_tokens
from keras_mae.layers.position_embedding import add_sincos_weight


@keras.saving.register_keras_serializable(package="keras_mae")
class MAEDecoder(keras.layers.Layer):
    """call(tokens [B, 1 + K, D_enc], ids_restore [B, L]) -> pixel predictions [B, L, output_dim].

    Args:
        grid_size: (rows, columns) of the patch grid.
        hidden_dim: the decoder's token width (the paper: 512); with no block, the encoder's.
        num_layers: transformer blocks (the paper: 8). 0 is BERT's trivial head: the tokens go
            straight to the pixel prediction, with no embedding, block or norm.
        num_heads: attention heads per block.
        mlp_dim: hidden width of each block's MLP.
        output_dim: values predicted per patch, p * p * C.
        layer_norm_epsilon: LayerNorm epsilon.
        remat: recompute each block's activations in the backward pass.
        fill_mask_tokens: fill removed positions with the decoder's mask token and unshuffle
            (MAE); False when the encoder already holds every position, in order
            (`ids_restore` is then not used).
    """

    def __init__(
        self,
        grid_size,
        hidden_dim,
        num_layers,
        num_heads,
        mlp_dim,
        output_dim,
        layer_norm_epsilon=1e-6,
        remat=False,
        fill_mask_tokens=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.grid_size = tuple(grid_size)
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.output_dim = output_dim
        self.layer_norm_epsilon = layer_norm_epsilon
        self.remat = remat
        self.fill_mask_tokens = fill_mask_tokens
        self.num_patches = self.grid_size[0] * self.grid_size[1]

    def build(self, tokens_shape, ids_restore_shape=None):
        trivial = self.num_layers == 0
        width = tokens_shape[-1] if trivial else self.hidden_dim
        token_shape = (None, self.num_patches + 1, width)
        self.embed = keras.layers.Identity(name="embed") if trivial else keras.layers.Dense(
            width, name="embed", dtype=self.dtype_policy, **linear_init()
        )
        self.embed.build(tokens_shape)
        if self.fill_mask_tokens:
            self.mask_token = self.add_weight(
                shape=(1, 1, width), initializer=token_init(), name="mask_token"
            )
        self.pos_embed = add_sincos_weight(self, width, self.grid_size)
        self.blocks = build_blocks(
            self.num_layers, width, self.num_heads, self.mlp_dim,
            self.layer_norm_epsilon, token_shape, self.dtype_policy, remat=self.remat,
        )
        self.norm = keras.layers.Identity(name="norm") if trivial else layer_norm(
            self.layer_norm_epsilon, "norm", self.dtype_policy)
        self.norm.build(token_shape)
        self.pred = keras.layers.Dense(
            self.output_dim, name="pred", dtype=self.dtype_policy, **linear_init()
        )
        self.pred.build(token_shape)

    def call(self, tokens, ids_restore=None):
        x = self.embed(tokens)
        if self.fill_mask_tokens:
            batch, visible = ops.shape(x)[0], x.shape[1] - 1
            mask_tokens = ops.tile(
                ops.cast(self.mask_token, self.compute_dtype),
                (batch, self.num_patches - visible, 1),
            )
            patches = ops.concatenate([x[:, 1:], mask_tokens], axis=1)
            patches = take_tokens(patches, ids_restore)
            x = ops.concatenate([x[:, :1], patches], axis=1)
        x = x + ops.cast(self.pos_embed, self.compute_dtype)
        for block in self.blocks:
            x = block(x)
        return self.pred(self.norm(x))[:, 1:]

    def compute_output_shape(self, tokens_shape, ids_restore_shape=None):
        return (tokens_shape[0], self.num_patches, self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "grid_size": self.grid_size,
            "hidden_dim": self.hidden_dim,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "mlp_dim": self.mlp_dim,
            "output_dim": self.output_dim,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "remat": self.remat,
            "fill_mask_tokens": self.fill_mask_tokens,
        }
