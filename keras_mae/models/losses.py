"""The MAE objective (section 3): mean squared error per patch, averaged over removed patches."""

from keras import ops


def patch_mean_and_scale(patches, epsilon=1e-6):
    """Per-patch mean and sqrt(unbiased variance + eps), each [B, L, 1], as the reference."""
    mean = ops.mean(patches, axis=-1, keepdims=True)
    count = patches.shape[-1]
    var = ops.sum(ops.square(patches - mean), axis=-1, keepdims=True) / (count - 1)
    return mean, ops.sqrt(var + epsilon)


def normalize_patches(patches, epsilon=1e-6):
    """Per-patch normalisation of targets (norm_pix_loss): (x - mean) / sqrt(unbiased var + eps)."""
    mean, scale = patch_mean_and_scale(patches, epsilon)
    return (patches - mean) / scale


def masked_mse(target, pred, mask):
    """target, pred [B, L, P]; mask [B, L] (1 = removed) -> scalar mean over removed patches."""
    per_patch = ops.mean(ops.square(pred - target), axis=-1)
    return ops.sum(per_patch * mask) / ops.sum(mask)
