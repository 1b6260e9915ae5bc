"""The data normalisation a model trains with, per channel: (pixels / 255 - mean) / std.

Configs give `mean` and `std` in 0..1, as torchvision does; pipelines, serving and pictures
convert with this one class.
"""

import numpy as np
import tensorflow as tf


class PixelNormalization:
    """Converts between pixels (0..255) and a model's normalised inputs.

    Args:
        mean: per-channel mean of the data in 0..1 (one value, or one per channel).
        std: per-channel standard deviation of the data in 0..1.
    """

    def __init__(self, mean, std):
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self._mean255 = np.asarray(self.mean, np.float32) * 255.0
        self._std255 = np.asarray(self.std, np.float32) * 255.0

    def normalize(self, pixels):
        """Pixels [..., C] in 0..255 (any dtype) -> normalised float32."""
        return (tf.cast(pixels, tf.float32) - self._mean255) / self._std255

    def to_pixels(self, images):
        """Normalised images -> float32 pixels in 0..255 (not clipped)."""
        return images * self._std255 + self._mean255
