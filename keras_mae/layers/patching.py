"""Cutting images into patches: the learned patch embedding and the pixel-space patchify.

Patch vectors are ordered (row-in-patch, column-in-patch, channel), the reference's
`einsum('nchpwq->nhwpqc')`, so predictions and checkpoints line up with facebookresearch/mae.
"""

import math

import keras
from keras import ops

from keras_mae.errors import InputError


def image_size_pair(image_size):
    """An int or a (height, width) pair -> a (height, width) tuple."""
    if isinstance(image_size, int):
        return (image_size, image_size)
    return tuple(int(side) for side in image_size)


def check_patch_grid(image_size, patch_size):
    """Return the (rows, cols) patch grid, or raise if the patch size does not tile the image."""
    height, width = image_size
    if height % patch_size or width % patch_size:
        raise InputError(
            f"Image size {height}x{width} is not divisible by patch size {patch_size}. "
            f"Resize the images (e.g. to {height // patch_size * patch_size or patch_size}x"
            f"{width // patch_size * patch_size or patch_size}) or choose a patch size that "
            f"divides both sides."
        )
    return height // patch_size, width // patch_size


def patchify(images, patch_size):
    """Cut images into flattened patches, rows of patches first (the reference's order).

    Args:
        images: [B, H, W, C] of any dtype, H and W multiples of `patch_size`.
        patch_size: p, the side of the square patches.

    Returns:
        [B, L, p*p*C] of the dtype of `images`, L = (H/p)*(W/p).
    """
    _, height, width, channels = images.shape
    rows, cols = height // patch_size, width // patch_size
    x = ops.reshape(images, (-1, rows, patch_size, cols, patch_size, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, rows * cols, patch_size * patch_size * channels))


def unpatchify(patches, patch_size, grid_size, channels):
    """Put flattened patches back together: the inverse of `patchify`.

    Args:
        patches: [B, L, p*p*C] of any dtype.
        patch_size: p, the side of the square patches.
        grid_size: (rows, columns) of the patch grid, rows * columns = L.
        channels: C.

    Returns:
        [B, rows*p, columns*p, C] images of the dtype of `patches`.
    """
    rows, cols = grid_size
    x = ops.reshape(patches, (-1, rows, cols, patch_size, patch_size, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, rows * patch_size, cols * patch_size, channels))


@keras.saving.register_keras_serializable(package="keras_mae")
class PatchEmbedding(keras.layers.Layer):
    """A strided convolution that maps each p x p patch to a `hidden_dim` token: [B, H, W, C] -> [B, L, D].

    Initialised as the reference: xavier-uniform on the kernel viewed as [D, p*p*C], and
    PyTorch's default uniform(+-1/sqrt(p*p*C)) bias.

    Args:
        patch_size: p, the side of the square patches (the convolution's kernel and stride).
        hidden_dim: D, the width of each patch's token.
    """

    def __init__(self, patch_size, hidden_dim, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim

    def build(self, input_shape):
        fan_in = self.patch_size * self.patch_size * input_shape[-1]
        kernel_limit = math.sqrt(6.0 / (fan_in + self.hidden_dim))
        bias_limit = 1.0 / math.sqrt(fan_in)
        self.projection = keras.layers.Conv2D(
            self.hidden_dim,
            kernel_size=self.patch_size,
            strides=self.patch_size,
            kernel_initializer=keras.initializers.RandomUniform(-kernel_limit, kernel_limit),
            bias_initializer=keras.initializers.RandomUniform(-bias_limit, bias_limit),
            name="projection",
            dtype=self.dtype_policy,
        )
        self.projection.build(input_shape)

    def call(self, images):
        x = self.projection(images)
        return ops.reshape(x, (-1, x.shape[1] * x.shape[2], self.hidden_dim))

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        return (batch, (height // self.patch_size) * (width // self.patch_size), self.hidden_dim)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "hidden_dim": self.hidden_dim}
