import numpy as np
import pytest

from keras_mae.layers.patching import check_patch_grid, patchify, unpatchify


def reference_patchify(images_nhwc, p):
    """facebookresearch/mae's patchify on NCHW images: einsum('nchpwq->nhwpqc')."""
    x = np.transpose(images_nhwc, (0, 3, 1, 2))
    n, c, height, width = x.shape
    h, w = height // p, width // p
    x = x.reshape(n, c, h, p, w, p)
    x = np.einsum("nchpwq->nhwpqc", x)
    return x.reshape(n, h * w, p * p * c)


@pytest.mark.parametrize("shape,p", [((2, 16, 16, 3), 4), ((3, 12, 20, 1), 4), ((1, 14, 28, 5), 7)])
def test_patchify_matches_the_reference_layout(shape, p):
    images = np.random.default_rng(0).random(shape).astype("float32")
    np.testing.assert_array_equal(np.asarray(patchify(images, p)), reference_patchify(images, p))


def test_unpatchify_inverts_patchify():
    images = np.random.default_rng(1).random((2, 12, 20, 3)).astype("float32")
    patches = patchify(images, 4)
    np.testing.assert_array_equal(np.asarray(unpatchify(patches, 4, (3, 5), 3)), images)


def test_patch_size_that_does_not_divide_the_image_is_refused():
    with pytest.raises(ValueError, match="not divisible by patch size 16"):
        check_patch_grid((224, 230), 16)
