"""MixUp and CutMix as the reference fine-tunes with them: timm's `Mixup` in batch mode, applied
by each GPU to its own batch of 32. So here each group of `group_size` consecutive images of a
batch is one of timm's batches: with probability `prob` it is mixed with itself reversed, by
MixUp or (with `switch_prob` when both are on) CutMix, one ratio per group drawn from
Beta(alpha, alpha) and, for CutMix, one box per group; CutMix's ratio is the area the box really
covers after clipping at the border (timm's `correct_lam`). With `cutmix_minmax`, CutMix's box
sides are instead uniform between those fractions of the image sides (timm's
`rand_bbox_minmax`). Stateless: the seed of each batch fixes every group's draws.

A batch not divisible by `group_size` ends in a smaller group of the rest, mixed within itself
with its own draws (the reference drops incomplete batches, so all of its groups are full)."""

import numpy as np
import tensorflow as tf

REFERENCE_GROUP_SIZE = 32  # the reference's images per GPU (ImageNet: 32 x 32 GPUs = 1024)


def mix_batch(images, targets, seed, mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0,
              switch_prob=0.5, cutmix_minmax=None, group_size=REFERENCE_GROUP_SIZE):
    """images [B, H, W, C], soft targets [B, K], seed [2] -> the mixed batch (images, targets).

    Args:
        mixup_alpha: Beta parameter of MixUp's ratio; 0 turns MixUp off.
        cutmix_alpha: Beta parameter of CutMix's ratio; 0 turns CutMix off.
        prob: probability that a group is mixed at all.
        switch_prob: probability of CutMix rather than MixUp when both are on.
        cutmix_minmax: (min, max) fractions of the sides for CutMix's box; turns CutMix on
            (timm sets its alpha to 1).
        group_size: images per mixing group (the reference's per-GPU batch).
    """
    if cutmix_minmax:
        cutmix_alpha = 1.0
    if not mixup_alpha and not cutmix_alpha:
        return images, targets
    group, partner = _groups(images.shape[0], group_size)
    draws = group_draws(int(group[-1]) + 1, images.shape[1], images.shape[2], seed,
                        mixup_alpha, cutmix_alpha, prob, switch_prob, cutmix_minmax)
    applied, use_cutmix, ratio, inside, covered = (tf.gather(draw, group) for draw in draws)
    partners = tf.gather(images, partner)
    mixed_up = ratio[:, None, None, None] * images + (1.0 - ratio[:, None, None, None]) * partners
    cut = tf.where(inside[..., None], partners, images)
    mixed = tf.where(use_cutmix[:, None, None, None], cut, mixed_up)
    kept = tf.where(use_cutmix, 1.0 - covered, ratio)  # the share of each image's own label
    images = tf.where(applied[:, None, None, None], mixed, images)
    kept = tf.where(applied, kept, 1.0)[:, None]
    return images, kept * targets + (1.0 - kept) * tf.gather(targets, partner)


def _groups(batch_size, group_size):
    """Per image of a batch: its group, and its partner (the image at the mirrored place of the
    group, timm's `x.flip(0)`); the last group holds the rest of the batch."""
    index = np.arange(batch_size)
    group = index // group_size
    start = group * group_size
    end = np.minimum(start + group_size, batch_size)
    return group, start + end - 1 - index


def group_draws(groups, height, width, seed, mixup_alpha, cutmix_alpha, prob, switch_prob,
                cutmix_minmax):
    """Each group's draws, as timm's `_params_per_batch` and `cutmix_bbox_and_lam`: (applied
    [G] bool, use_cutmix [G] bool, ratio [G], inside [G, H, W] bool, covered [G] the share of
    the image the box covers)."""
    apply_seed, switch_seed, ratio_seed, box_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 4))
    if mixup_alpha and cutmix_alpha:
        use_cutmix = tf.random.stateless_uniform([groups], switch_seed) < switch_prob
    else:
        use_cutmix = tf.fill([groups], bool(cutmix_alpha))
    alpha = tf.where(use_cutmix, float(cutmix_alpha), float(mixup_alpha))
    ratio = _beta(alpha, ratio_seed)
    box_draws = tf.random.stateless_uniform([groups, 4], box_seed)
    if cutmix_minmax:
        inside, covered = _minmax_box(height, width, cutmix_minmax, box_draws)
    else:
        inside, covered = _cutmix_box(height, width, ratio, box_draws[:, :2])
    applied = tf.random.stateless_uniform([groups], apply_seed) < prob
    return applied, use_cutmix, ratio, inside, covered


def _beta(alpha, seed):
    """Draws of Beta(alpha, alpha), one per entry of `alpha` [G], as two Gamma draws."""
    first, second = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    x = tf.random.stateless_gamma(tf.shape(alpha), first, alpha=alpha)
    y = tf.random.stateless_gamma(tf.shape(alpha), second, alpha=alpha)
    return x / (x + y)


def _cutmix_box(height, width, ratio, centre):
    """timm's `rand_bbox`: per group a box of sides sqrt(1 - ratio) x (H, W) around a centre
    uniform in the image (`centre` [G, 2] uniform draws), clipped at the border ->
    (inside [G, H, W] bool, covered [G] the share of the image it covers)."""
    scale = tf.sqrt(1.0 - ratio)
    cut_h = tf.cast(height * scale, tf.int32)
    cut_w = tf.cast(width * scale, tf.int32)
    cy = tf.cast(centre[:, 0] * height, tf.int32)
    cx = tf.cast(centre[:, 1] * width, tf.int32)
    top, bottom = tf.clip_by_value(cy - cut_h // 2, 0, height), tf.clip_by_value(
        cy + cut_h // 2, 0, height)
    left, right = tf.clip_by_value(cx - cut_w // 2, 0, width), tf.clip_by_value(
        cx + cut_w // 2, 0, width)
    return _box(height, width, top, bottom, left, right)


def _minmax_box(height, width, minmax, draws):
    """timm's `rand_bbox_minmax`: per group sides uniform in [min, max) x (H, W), placed
    uniformly inside the image (`draws` [G, 4] uniform) -> (inside [G, H, W] bool, covered [G])."""
    cut_h = _randint(draws[:, 0], int(height * minmax[0]), int(height * minmax[1]))
    cut_w = _randint(draws[:, 1], int(width * minmax[0]), int(width * minmax[1]))
    top = _randint(draws[:, 2], 0, height - cut_h)
    left = _randint(draws[:, 3], 0, width - cut_w)
    return _box(height, width, top, top + cut_h, left, left + cut_w)


def _randint(uniform, low, high):
    """An integer uniform in [low, high) from a uniform draw in [0, 1), as NumPy's randint."""
    return low + tf.cast(uniform * tf.cast(high - low, tf.float32), tf.int32)


def _box(height, width, top, bottom, left, right):
    """Boxes [G] of rows [top, bottom) and columns [left, right) -> (inside [G, H, W], covered [G])."""
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < bottom[:, None, None])
              & (cols >= left[:, None, None]) & (cols < right[:, None, None]))
    covered = tf.cast((bottom - top) * (right - left), tf.float32) / float(height * width)
    return inside, covered
