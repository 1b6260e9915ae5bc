"""Per-sample random masking (MAE section 3): shuffle patches by noise, keep the first part.

Pure functions of the noise, so that a given `noise` gives one mask on any device, with or
without XLA, and so that tests can pin the mask.
"""

import tensorflow as tf
from keras import ops

from keras_mae.errors import InputError


def num_visible(num_patches, mask_ratio):
    """How many patches stay visible: `int(L * (1 - mask_ratio))`, as the reference.

    Args:
        num_patches: L, the patches of an image.
        mask_ratio: the fraction removed, in [0, 1).

    Returns:
        The int count of visible patches, at least 1.

    Raises:
        InputError: `mask_ratio` is outside [0, 1) or leaves no patch visible.
    """
    if not 0.0 <= mask_ratio < 1.0:
        raise InputError(
            f"mask_ratio must be in [0, 1), got {mask_ratio}. The paper uses 0.75; "
            "features of the whole image come from `encode`."
        )
    keep = int(num_patches * (1 - mask_ratio))
    if keep < 1:
        raise InputError(
            f"mask_ratio {mask_ratio} leaves no visible patch of {num_patches}; lower it below "
            f"{1 - 1 / num_patches:.4f}."
        )
    return keep


def random_masking(noise, keep):
    """Masking from noise: patches with the `keep` smallest noise values stay visible.

    Args:
        noise: [B, L] float, one value per patch (uniform in the paper); equal noise gives
            equal masks on any device.
        keep: the number of visible patches K (`num_visible`).

    Returns:
        ids_keep: [B, K] int indices of the visible patches, in shuffled order.
        mask: [B, L] float32, 1 where a patch is removed, 0 where visible, in original order.
        ids_restore: [B, L] int, the permutation that undoes the shuffle.
    """
    ids_shuffle = ops.argsort(noise, axis=1)
    ids_restore = ops.argsort(ids_shuffle, axis=1)
    ids_keep = ids_shuffle[:, :keep]
    mask = ops.cast(ids_restore >= keep, "float32")
    return ids_keep, mask, ids_restore


def take_tokens(tokens, indices):
    """The rows `indices` of each sample's tokens.

    Args:
        tokens: [B, L, D] of any dtype.
        indices: [B, K] int, row `indices[b, k]` of sample b is the output's row k.

    Returns:
        [B, K, D] tokens of the dtype of `tokens`.

    One gather of whole token rows: `ops.take_along_axis` would broadcast the indices over D,
    transpose, gather element by element and scatter element by element in the backward pass.
    """
    return tf.gather(tokens, indices, batch_dims=1)
