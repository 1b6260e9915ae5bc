"""MixUp and CutMix as the reference fine-tunes with them (timm's `Mixup`, batch mode): with
probability `prob` a batch is mixed with itself reversed, by MixUp or (with `switch_prob` when
both are on) CutMix, one ratio per batch drawn from Beta(alpha, alpha); CutMix's ratio is the
area the box really covers after clipping at the border (timm's `correct_lam`). With
`cutmix_minmax`, CutMix's box sides are instead uniform between those fractions of the image
sides (timm's `rand_bbox_minmax`). Stateless: the seed of each batch fixes every draw."""

import tensorflow as tf


def mix_batch(images, targets, seed, mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0,
              switch_prob=0.5, cutmix_minmax=None):
    """images [B, H, W, C], soft targets [B, K], seed [2] -> the mixed batch (images, targets).

    Args:
        mixup_alpha: Beta parameter of MixUp's ratio; 0 turns MixUp off.
        cutmix_alpha: Beta parameter of CutMix's ratio; 0 turns CutMix off.
        prob: probability that a batch is mixed at all.
        switch_prob: probability of CutMix rather than MixUp when both are on.
        cutmix_minmax: (min, max) fractions of the sides for CutMix's box; turns CutMix on
            (timm sets its alpha to 1).
    """
    if cutmix_minmax:
        cutmix_alpha = 1.0
    if not mixup_alpha and not cutmix_alpha:
        return images, targets
    apply_seed, switch_seed, ratio_seed, box_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 4))
    if mixup_alpha and cutmix_alpha:
        use_cutmix = tf.random.stateless_uniform([], switch_seed) < switch_prob
    else:
        use_cutmix = tf.constant(bool(cutmix_alpha))
    alpha = tf.where(use_cutmix, float(cutmix_alpha), float(mixup_alpha))
    ratio = _beta(alpha, ratio_seed)
    height, width = images.shape[1], images.shape[2]
    if cutmix_minmax:
        inside, covered = _minmax_box(height, width, cutmix_minmax, box_seed)
    else:
        inside, covered = _cutmix_box(height, width, ratio, box_seed)
    reversed_images = tf.reverse(images, axis=[0])
    mixed_up = ratio * images + (1.0 - ratio) * reversed_images
    cut = tf.where(inside[None, :, :, None], reversed_images, images)
    mixed = tf.where(use_cutmix, cut, mixed_up)
    kept = tf.where(use_cutmix, 1.0 - covered, ratio)  # the share of each image's own label
    applied = tf.random.stateless_uniform([], apply_seed) < prob
    images = tf.where(applied, mixed, images)
    kept = tf.where(applied, kept, 1.0)
    return images, kept * targets + (1.0 - kept) * tf.reverse(targets, axis=[0])


def _beta(alpha, seed):
    """One draw of Beta(alpha, alpha), as two Gamma draws."""
    first, second = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    x = tf.random.stateless_gamma([], first, alpha=alpha)
    y = tf.random.stateless_gamma([], second, alpha=alpha)
    return x / (x + y)


def _cutmix_box(height, width, ratio, seed):
    """timm's `rand_bbox`: a box of sides sqrt(1 - ratio) x (H, W) around a uniform centre,
    clipped at the border -> (inside [H, W] bool, the share of the image it covers)."""
    scale = tf.sqrt(1.0 - ratio)
    cut_h = tf.cast(height * scale, tf.int32)
    cut_w = tf.cast(width * scale, tf.int32)
    centre = tf.random.stateless_uniform([2], seed)
    cy = tf.cast(centre[0] * height, tf.int32)
    cx = tf.cast(centre[1] * width, tf.int32)
    top, bottom = tf.clip_by_value(cy - cut_h // 2, 0, height), tf.clip_by_value(
        cy + cut_h // 2, 0, height)
    left, right = tf.clip_by_value(cx - cut_w // 2, 0, width), tf.clip_by_value(
        cx + cut_w // 2, 0, width)
    return _box(height, width, top, bottom, left, right)


def _minmax_box(height, width, minmax, seed):
    """timm's `rand_bbox_minmax`: sides uniform in [min, max) x (H, W), placed uniformly inside
    the image -> (inside [H, W] bool, the share of the image it covers)."""
    draws = tf.random.stateless_uniform([4], seed)
    cut_h = _randint(draws[0], int(height * minmax[0]), int(height * minmax[1]))
    cut_w = _randint(draws[1], int(width * minmax[0]), int(width * minmax[1]))
    top = _randint(draws[2], 0, height - cut_h)
    left = _randint(draws[3], 0, width - cut_w)
    return _box(height, width, top, top + cut_h, left, left + cut_w)


def _randint(uniform, low, high):
    """An integer uniform in [low, high) from a uniform draw in [0, 1), as NumPy's randint."""
    return low + tf.cast(uniform * tf.cast(high - low, tf.float32), tf.int32)


def _box(height, width, top, bottom, left, right):
    rows = tf.range(height)[:, None]
    cols = tf.range(width)[None, :]
    inside = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
    covered = tf.cast((bottom - top) * (right - left), tf.float32) / float(height * width)
    return inside, covered
