"""MixUp and CutMix as timm's `Mixup` (batch mode) does them, against a NumPy re-derivation."""

import numpy as np
import pytest
import tensorflow as tf

from keras_mae.data.mixing import _cutmix_box, group_draws, mix_batch


def batch(seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(6, 10, 14, 3)).astype(np.float32)
    targets = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 6)] * 0.9 + 0.025
    return images, targets


def numpy_box(height, width, ratio, centre):
    """timm's rand_bbox + correct_lam."""
    cut_h, cut_w = int(height * np.sqrt(1 - ratio)), int(width * np.sqrt(1 - ratio))
    cy, cx = int(centre[0] * height), int(centre[1] * width)
    top, bottom = np.clip(cy - cut_h // 2, 0, height), np.clip(cy + cut_h // 2, 0, height)
    left, right = np.clip(cx - cut_w // 2, 0, width), np.clip(cx + cut_w // 2, 0, width)
    return (top, bottom, left, right), 1 - (bottom - top) * (right - left) / (height * width)


@pytest.mark.parametrize("ratio, centre", [(0.7, (0.5, 0.5)), (0.3, (0.05, 0.95)),
                                           (0.1, (0.99, 0.01))])
def test_the_cutmix_box_is_clipped_and_its_ratio_is_the_area_it_covers(ratio, centre):
    inside, covered = _cutmix_box(10, 14, tf.constant([ratio]), tf.constant([centre]))
    (top, bottom, left, right), kept = numpy_box(10, 14, ratio, centre)
    expected = np.zeros((10, 14), bool)
    expected[top:bottom, left:right] = True
    np.testing.assert_array_equal(inside[0], expected)
    np.testing.assert_allclose(1 - float(covered[0]), kept, atol=1e-6)


def test_mixup_mixes_each_image_with_the_reversed_batch_by_one_ratio():
    images, targets = batch()
    mixed, mixed_targets = mix_batch(images, targets, tf.constant([3, 4], tf.int64),
                                     mixup_alpha=0.8, cutmix_alpha=0.0)
    mixed, mixed_targets = np.asarray(mixed), np.asarray(mixed_targets)
    # one ratio for the whole batch, recovered from the first image
    ratio = ((mixed - images[::-1]) / (images - images[::-1])).reshape(6, -1)
    assert np.allclose(ratio, ratio[0, 0], atol=1e-3) and 0 < ratio[0, 0] < 1
    np.testing.assert_allclose(mixed_targets, ratio[0, 0] * targets
                               + (1 - ratio[0, 0]) * targets[::-1], atol=1e-4)


def test_cutmix_pastes_one_box_of_the_reversed_batch_and_labels_its_true_area():
    images, targets = batch(1)
    mixed, mixed_targets = mix_batch(images, targets, tf.constant([5, 6], tf.int64),
                                     mixup_alpha=0.0, cutmix_alpha=1.0)
    mixed, mixed_targets = np.asarray(mixed), np.asarray(mixed_targets)
    pasted = np.all(mixed == images[::-1], axis=-1) & ~np.all(mixed == images, axis=-1)
    assert np.all(pasted == pasted[0])  # the same box in every image
    covered = pasted[0].mean()
    np.testing.assert_allclose(mixed_targets, (1 - covered) * targets + covered * targets[::-1],
                               atol=1e-5)


def test_the_switch_and_the_probability_choose_per_batch():
    images, targets = batch(2)
    kinds = []
    for step in range(200):
        mixed, _ = mix_batch(images, targets, tf.constant([7, step], tf.int64),
                             mixup_alpha=0.8, cutmix_alpha=1.0, prob=0.5, switch_prob=0.5)
        mixed = np.asarray(mixed)
        if np.array_equal(mixed, images):
            kinds.append("none")
        elif np.all((mixed == images) | (mixed == images[::-1])):
            kinds.append("cutmix")
        else:
            kinds.append("mixup")
    counts = {kind: kinds.count(kind) for kind in ("none", "cutmix", "mixup")}
    assert 70 < counts["none"] < 130 and 30 < counts["cutmix"] < 70 and 30 < counts["mixup"] < 70
    same = mix_batch(images, targets, tf.constant([7, 3], tf.int64))[0]
    np.testing.assert_array_equal(same, mix_batch(images, targets,
                                                   tf.constant([7, 3], tf.int64))[0])


def test_cutmix_minmax_draws_whole_boxes_with_sides_in_range_and_turns_cutmix_on():
    """timm's rand_bbox_minmax: sides uniform in [int(min x side), int(max x side)), the box
    inside the image; with cutmix_minmax timm sets cutmix's alpha to 1 (here it was 0)."""
    images, targets = batch(3)  # 10 x 14 images
    heights, widths = set(), set()
    for step in range(300):
        mixed, mixed_targets = mix_batch(images, targets, tf.constant([9, step], tf.int64),
                                         mixup_alpha=0.0, cutmix_alpha=0.0,
                                         cutmix_minmax=(0.25, 0.75))
        mixed = np.asarray(mixed)
        pasted = np.all(mixed == images[::-1], axis=-1) & ~np.all(mixed == images, axis=-1)
        rows, cols = np.nonzero(pasted[0])
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert pasted[0].sum() == height * width  # one whole rectangle
        heights.add(height), widths.add(width)
        covered = height * width / (10 * 14)
        np.testing.assert_allclose(mixed_targets, (1 - covered) * targets
                                   + covered * targets[::-1], atol=1e-5)
    assert heights == set(range(2, 7)) and widths == set(range(3, 10))


def timm_mix(images, targets, applied, use_cutmix, ratio, inside, covered):
    """timm's Mixup._mix_batch and mixup_target on one GPU batch, given its draws."""
    if not applied:
        return images, targets
    flipped = images[::-1]
    if use_cutmix:
        mixed = images.copy()
        mixed[:, inside] = flipped[:, inside]
        ratio = 1 - covered
    else:
        mixed = images * ratio + flipped * (1 - ratio)
    return mixed, targets * ratio + targets[::-1] * (1 - ratio)


@pytest.mark.parametrize("batch_size", [96, 80])
def test_each_group_of_32_images_is_mixed_as_one_of_timms_gpu_batches(batch_size):
    """Per group of 32 (the reference's per-GPU batch) one lambda, one mixup-or-cutmix choice and
    one box, the group mixed with itself reversed; 80 images end in a group of 16."""
    rng = np.random.default_rng(batch_size)
    images = rng.normal(size=(batch_size, 10, 14, 3)).astype(np.float32)
    targets = np.eye(batch_size, dtype=np.float32)  # every image its own class
    seed = tf.constant([3, batch_size], tf.int64)
    arguments = dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=0.9, switch_prob=0.5,
                     cutmix_minmax=None)
    mixed, mixed_targets = mix_batch(images, targets, seed, group_size=32, **arguments)
    groups = -(-batch_size // 32)
    draws = [np.asarray(d) for d in group_draws(groups, 10, 14, seed, **arguments)]
    for group in range(groups):
        part = slice(32 * group, min(32 * (group + 1), batch_size))
        expected = timm_mix(images[part], targets[part], *(d[group] for d in draws))
        np.testing.assert_allclose(mixed[part], expected[0], atol=1e-5)
        np.testing.assert_allclose(mixed_targets[part], expected[1], atol=1e-5)
    # Read back from the targets: one share of its own label per group, different groups apart.
    own = np.diag(np.asarray(mixed_targets))
    shares = [own[32 * g:32 * (g + 1)] for g in range(groups)]
    assert all(np.allclose(share, share[0]) for share in shares)
    assert len({round(float(share[0]), 5) for share in shares}) == groups


def test_groups_differ_in_their_choice_of_mixup_or_cutmix():
    choices = set()
    for step in range(10):
        draws = group_draws(2, 4, 4, tf.constant([1, step], tf.int64), 0.8, 1.0, 1.0, 0.5, None)
        choices.add(tuple(np.asarray(draws[1])))
    assert {(True, False), (False, True)} <= choices


def test_the_group_size_reaches_the_batches_from_the_config(monkeypatch, tmp_path):
    from keras_mae.training import evaluate
    from keras_mae.training.config import finetune_config

    class Recorded(Exception):
        pass

    def record(*args, **kwargs):
        raise Recorded(kwargs["mix_group_size"])

    monkeypatch.setattr(evaluate, "make_classification_dataset", record)
    config = finetune_config()
    assert config.augment.mix_group_size == 32
    config.augment.mix_group_size = 8
    config.batch_size = 64
    config.model.preset = "mae_vit_micro_patch4_28_grey"
    with pytest.raises(Recorded, match="^8$"):
        evaluate.train_classifier(config, tmp_path)
