"""The ViT and MAE building blocks: patches, positions, masking, attention, MLP, blocks."""

from keras_mae.layers.attention import MultiHeadSelfAttention
from keras_mae.layers.block import TransformerBlock
from keras_mae.layers.drop_path import DropPath
from keras_mae.layers.masking import num_visible, random_masking, take_tokens
from keras_mae.layers.mlp import Mlp
from keras_mae.layers.patching import PatchEmbedding, patchify, unpatchify
from keras_mae.layers.position_embedding import sincos_2d

__all__ = [
    "DropPath", "Mlp", "MultiHeadSelfAttention", "PatchEmbedding", "TransformerBlock",
    "num_visible", "patchify", "random_masking", "sincos_2d", "take_tokens", "unpatchify",
]
