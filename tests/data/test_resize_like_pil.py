"""Held-out images are resized as the reference's torchvision transforms on PIL images do:
bicubic with antialiasing when shrinking (PIL always antialiases)."""

import numpy as np
import pytest
from PIL import Image

from keras_mae.data.classification import centre_crop


def textured_image(height, width, seed=0):
    """Blurred blocks with fine texture (pixel noise), uint8 [H, W, 3]: shrinking it without
    antialiasing aliases the texture."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (height // 25 + 1, width // 25 + 1, 3)).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(blocks).resize((width, height), Image.BILINEAR))
    texture = rng.normal(0, 40, (height, width, 3))
    return np.clip(smooth + texture, 0, 255).astype(np.uint8)


def pil_resize_and_centre_crop(image, size=224, resize_to=256):
    """torchvision's Resize(256, bicubic) + CenterCrop(224) on a PIL image."""
    height, width = image.shape[:2]
    scale = resize_to / min(height, width)
    new_w, new_h = round(width * scale), round(height * scale)
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BICUBIC), np.float32)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return resized[top:top + size, left:left + size]


@pytest.mark.parametrize("shape", [(480, 640), (375, 500)])
def test_shrinking_for_evaluation_matches_pil_within_a_grey_level(shape):
    image = textured_image(*shape)
    ours = np.asarray(centre_crop(image, (224, 224), 224 / 256))
    theirs = pil_resize_and_centre_crop(image)
    assert ours.shape == theirs.shape
    # measured: 0.29-0.30 grey levels with antialiasing, 12-17 without
    assert np.abs(ours - theirs).mean() < 1.0, np.abs(ours - theirs).mean()
