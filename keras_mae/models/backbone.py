"""`ViTBackbone`: the ViT encoder that MAE pretrains and the classifiers reuse.

Images in, tokens out. It knows nothing of masking, decoders or heads: given `keep_indices` it
embeds only those patches (MAE section 3, "the encoder sees only visible patches"); without,
all of them.
"""

import keras
from keras import ops

from keras_mae.errors import InputError
from keras_mae.layers.block import build_blocks
from keras_mae.layers.initializers import layer_norm, token_init
from keras_mae.layers.masking import take_tokens
from keras_mae.layers.patching import PatchEmbedding, check_patch_grid, image_size_pair
from keras_mae.layers.position_embedding import add_sincos_weight
from keras_mae.models.resizing import at_image_size


@keras.saving.register_keras_serializable(package="keras_mae")
class ViTBackbone(keras.Model):
    """Patch embedding + fixed sin-cos positions + cls token + pre-norm blocks + final norm.

    `backbone(images [B, H, W, C], keep_indices [B, K] or None)` -> tokens [B, 1 + K (or L), D];
    `final_norm=False` returns the tokens before the final norm (the reference's fine-tuned ViTs
    with global pooling normalise the pooled features instead, `fc_norm`).

    Args:
        image_size: an int or (height, width); the patch size must divide both.
        patch_size: side of the square patches.
        num_channels: image channels (any number).
        hidden_dim: token width D.
        num_layers: transformer blocks.
        num_heads: attention heads per block.
        mlp_dim: hidden width of each block's MLP.
        layer_norm_epsilon: LayerNorm epsilon (the reference: 1e-6).
        drop_path_rate: stochastic depth of the last block, rising linearly from 0 at the first
            (timm); for fine-tuning.
        trainable_pos_embed: learn the position table, which starts as the sin-cos one (the
            reference's fine-tuned ViT holds it as a parameter; pretraining keeps it fixed).
        remat: recompute each block's activations in the backward pass (less memory, one more
            forward pass of each block per training step).
    """

    def __init__(
        self,
        image_size=224,
        patch_size=16,
        num_channels=3,
        hidden_dim=768,
        num_layers=12,
        num_heads=12,
        mlp_dim=3072,
        layer_norm_epsilon=1e-6,
        drop_path_rate=0.0,
        trainable_pos_embed=False,
        remat=False,
        **kwargs,
    ):
        # Keras 3.15 does not pass a layer's trainable=False on to sublayers created after
        # __init__ (ours are created in build): set it once they exist.
        trainable = kwargs.pop("trainable", True)
        super().__init__(**kwargs)
        self.image_size = image_size_pair(image_size)
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.layer_norm_epsilon = layer_norm_epsilon
        self.drop_path_rate = drop_path_rate
        self.trainable_pos_embed = trainable_pos_embed
        self.remat = remat
        self.grid_size = check_patch_grid(self.image_size, patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.build((None, *self.image_size, num_channels))
        self.trainable = trainable

    def build(self, input_shape):
        token_shape = (None, self.num_patches + 1, self.hidden_dim)
        self.patch_embed = PatchEmbedding(
            self.patch_size, self.hidden_dim, name="patch_embed", dtype=self.dtype_policy
        )
        self.patch_embed.build((None, *self.image_size, self.num_channels))
        self.cls_token = self.add_weight(
            shape=(1, 1, self.hidden_dim), initializer=token_init(), name="cls_token"
        )
        self.pos_embed = add_sincos_weight(
            self, self.hidden_dim, self.grid_size, trainable=self.trainable_pos_embed
        )
        self.blocks = build_blocks(
            self.num_layers, self.hidden_dim, self.num_heads, self.mlp_dim,
            self.layer_norm_epsilon, token_shape, self.dtype_policy,
            drop_path_rate=self.drop_path_rate, remat=self.remat,
        )
        self.norm = layer_norm(self.layer_norm_epsilon, "norm", self.dtype_policy)
        self.norm.build(token_shape)
        self.built = True

    def call(self, images, keep_indices=None, final_norm=True, training=False):
        x = self.embed_patches(images)
        if keep_indices is not None:
            x = take_tokens(x, keep_indices)
        return self.encode_tokens(x, final_norm=final_norm, training=training)

    def embed_patches(self, images):
        """Images [B, H, W, C] -> patch tokens with their positions [B, L, D]."""
        self._check_images(images)
        pos_embed = ops.cast(self.pos_embed, self.compute_dtype)
        return self.patch_embed(images) + pos_embed[:, 1:]

    def encode_tokens(self, patch_tokens, final_norm=True, training=False):
        """Patch tokens [B, N, D] -> [B, 1 + N, D]: the cls token prepended, the blocks applied."""
        pos_embed = ops.cast(self.pos_embed, self.compute_dtype)
        cls = ops.cast(self.cls_token, self.compute_dtype) + pos_embed[:, :1]
        # broadcast_to keeps the static [?, 1, D] where Keras 3.10's tile lost it.
        cls = ops.broadcast_to(cls, (ops.shape(patch_tokens)[0], 1, self.hidden_dim))
        x = ops.concatenate([cls, patch_tokens], axis=1)
        for block in self.blocks:
            x = block(x, training=training)
        return self.norm(x) if final_norm else x

    def features(self, images):
        """{"cls_token": [B, D], "pooled": [B, D] (mean patch token)} of the unmasked image."""
        tokens = self(images)
        return {"cls_token": tokens[:, 0], "pooled": ops.mean(tokens[:, 1:], axis=1)}

    def resized(self, image_size):
        """A new backbone for images of `image_size` with the same weights, the position table
        resized to the new patch grid (bicubic, as the reference when fine-tuning at another
        resolution, e.g. ViT-H at 448)."""
        return at_image_size(self, image_size, regenerate_sincos=False)

    def clone(self, **changes):
        """A new backbone with these constructor arguments changed and the same weights; the
        changes must keep the weights' shapes (e.g. drop_path_rate, trainable_pos_embed, remat)."""
        clone = type(self).from_config({**self.get_config(), "name": self.name, **changes})
        clone.set_weights(self.get_weights())
        return clone

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
            "drop_path_rate": self.drop_path_rate,
            "trainable_pos_embed": self.trainable_pos_embed,
            "remat": self.remat,
        }
