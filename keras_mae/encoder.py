"""The ViT encoder (the backbone MAE pretrains): images -> tokens, optionally of a subset of patches.

It knows nothing of masking or decoders: given `keep_indices` it embeds only those patches
(MAE section 3, "the encoder sees only visible patches"); without, all of them.
"""

import keras
from keras import ops

from keras_mae.errors import InputError
from keras_mae.masking import take_tokens
from keras_mae.patching import PatchEmbedding, check_patch_grid
from keras_mae.pos_embed import sincos_2d
from keras_mae.transformer import TransformerBlock, layer_norm


def as_image_size(image_size):
    """An int or a (height, width) pair -> a (height, width) tuple."""
    if isinstance(image_size, int):
        return (image_size, image_size)
    return tuple(int(side) for side in image_size)


@keras.saving.register_keras_serializable(package="keras_mae")
class ViTEncoder(keras.layers.Layer):
    """Patch embedding + fixed sin-cos positions + cls token + pre-norm blocks + final norm.

    call(images [B, H, W, C], keep_indices [B, K] or None) -> tokens [B, 1 + K (or L), D].
    `final_norm=False` drops the final norm, as the reference's fine-tuned ViTs with global
    pooling do (they normalise the pooled features instead, `fc_norm`). `drop_path_rate` is the
    stochastic depth of the last block, rising linearly from 0 at the first (as timm).
    `trainable_pos_embed` lets fine-tuning learn the positions, which start as the sin-cos table
    (the reference's fine-tuned ViT holds them as a parameter; pretraining keeps them fixed).
    `remat` recomputes each block's activations in the backward pass (see `TransformerBlock`).
    """

    def __init__(
        self,
        image_size,
        patch_size,
        num_channels,
        hidden_dim,
        num_layers,
        num_heads,
        mlp_dim,
        layer_norm_epsilon=1e-6,
        final_norm=True,
        drop_path_rate=0.0,
        trainable_pos_embed=False,
        remat=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_size = as_image_size(image_size)
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.layer_norm_epsilon = layer_norm_epsilon
        self.final_norm = final_norm
        self.drop_path_rate = drop_path_rate
        self.trainable_pos_embed = trainable_pos_embed
        self.remat = remat
        self.grid_size = check_patch_grid(self.image_size, patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]

    def build(self, input_shape=None):
        image_shape = (None, *self.image_size, self.num_channels)
        token_shape = (None, self.num_patches + 1, self.hidden_dim)
        self.patch_embed = PatchEmbedding(
            self.patch_size, self.hidden_dim, name="patch_embed", dtype=self.dtype_policy
        )
        self.patch_embed.build(image_shape)
        self.cls_token = self.add_weight(
            shape=(1, 1, self.hidden_dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="cls_token",
        )
        self.pos_embed = self.add_weight(
            shape=(1, self.num_patches + 1, self.hidden_dim),
            initializer="zeros",
            trainable=self.trainable_pos_embed,
            name="pos_embed",
        )
        self.pos_embed.assign(sincos_2d(self.hidden_dim, self.grid_size, cls_token=True)[None])
        self.blocks = []
        for index in range(self.num_layers):
            block = TransformerBlock(
                self.hidden_dim,
                self.num_heads,
                self.mlp_dim,
                self.layer_norm_epsilon,
                drop_path_rate=self.drop_path_rate * index / max(self.num_layers - 1, 1),
                remat=self.remat,
                name=f"block_{index}",
                dtype=self.dtype_policy,
            )
            block.build(token_shape)
            self.blocks.append(block)
        self.norm = None
        if self.final_norm:
            self.norm = layer_norm(self.layer_norm_epsilon, "norm", self.dtype_policy)
            self.norm.build(token_shape)

    def call(self, images, keep_indices=None, training=False):
        self._check_images(images)
        pos_embed = ops.cast(self.pos_embed, self.compute_dtype)
        x = self.patch_embed(images) + pos_embed[:, 1:]
        if keep_indices is not None:
            x = take_tokens(x, keep_indices)
        cls = ops.cast(self.cls_token, self.compute_dtype) + pos_embed[:, :1]
        x = ops.concatenate([ops.tile(cls, (ops.shape(x)[0], 1, 1)), x], axis=1)
        for block in self.blocks:
            x = block(x, training=training)
        return self.norm(x) if self.final_norm else x

    def _check_images(self, images):
        height, width, channels = images.shape[1:]
        if (height, width) != self.image_size or channels != self.num_channels:
            raise InputError(
                f"This encoder takes {self.image_size[0]}x{self.image_size[1]} images with "
                f"{self.num_channels} channel(s), got {height}x{width} with {channels}. Resize "
                "the images (config data.image_size), convert them (data.num_channels), or "
                "build the model for this size."
            )

    def compute_output_shape(self, input_shape, keep_shape=None):
        tokens = self.num_patches if keep_shape is None else keep_shape[1]
        return (input_shape[0], 1 + tokens, self.hidden_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "patch_size": self.patch_size,
            "num_channels": self.num_channels,
            "hidden_dim": self.hidden_dim,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "mlp_dim": self.mlp_dim,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "final_norm": self.final_norm,
            "drop_path_rate": self.drop_path_rate,
            "trainable_pos_embed": self.trainable_pos_embed,
            "remat": self.remat,
        }
