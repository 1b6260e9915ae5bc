"""The crop boxes against NumPy ports of the reference's samplers: torchvision's
`RandomResizedCrop.get_params` (pretraining; timm 0.3.2's `RandomResizedCropAndInterpolation`,
fine-tuning, draws the same) and facebookresearch/mae's `util/crop.py` (linear probing)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_mae.data.augment import CROP_SAMPLERS, CROP_TRIES, random_resized_crop

RATIO = (3 / 4, 4 / 3)


def torchvision_box(height, width, uniforms, scale, ratio=RATIO):
    """torchvision's get_params, line by line, with its uniform draws taken from `uniforms`
    [10, 4] (per try: area, log-ratio, top, left; `torch.randint(0, n)` as floor(u * n))."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for u in uniforms:
        target_area = area * (scale[0] + u[0] * (scale[1] - scale[0]))
        aspect_ratio = math.exp(log_ratio[0] + u[1] * (log_ratio[1] - log_ratio[0]))
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if 0 < w <= width and 0 < h <= height:
            i = int(u[2] * (height - h + 1))
            j = int(u[3] * (width - w + 1))
            return i, j, h, w
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w = width
        h = int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        h = height
        w = int(round(h * max(ratio)))
    else:
        w = width
        h = height
    return (height - h) // 2, (width - w) // 2, h, w


def mae_probe_box(height, width, uniforms, scale, ratio=RATIO):
    """facebookresearch/mae util/crop.py's get_params, line by line: one draw, no loop."""
    u = uniforms[0]
    area = height * width
    target_area = area * (scale[0] + u[0] * (scale[1] - scale[0]))
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    aspect_ratio = math.exp(log_ratio[0] + u[1] * (log_ratio[1] - log_ratio[0]))
    w = int(round(math.sqrt(target_area * aspect_ratio)))
    h = int(round(math.sqrt(target_area / aspect_ratio)))
    w = min(w, width)
    h = min(h, height)
    i = int(u[2] * (height - h + 1))
    j = int(u[3] * (width - w + 1))
    return i, j, h, w


REFERENCE = {"torchvision": torchvision_box, "probe": mae_probe_box}


def tf_boxes(sampler, height, width, uniforms, scale):
    """The boxes of `CROP_SAMPLERS[sampler]` for uniforms [N, 10, 4], drawn inside a tf.data map
    (graph mode, as in training) -> int array [N, 4] (top, left, height, width)."""
    dataset = tf.data.Dataset.from_tensor_slices(uniforms).map(
        lambda u: tf.stack(CROP_SAMPLERS[sampler](height, width, u, scale)))
    return np.concatenate(list(dataset.batch(4096).as_numpy_iterator()))


def seeded_boxes(sampler, height, width, scale, count):
    """`count` boxes drawn as `random_resized_crop` draws them, seeded by (i, 7)."""
    dataset = tf.data.Dataset.range(count).map(
        lambda i: tf.random.stateless_uniform([CROP_TRIES, 4], tf.stack([i, 7]), dtype=tf.float64))
    return tf_boxes(sampler, height, width, np.stack(list(dataset.as_numpy_iterator())), scale)


def reference_boxes(sampler, height, width, scale, count, seed=0):
    uniforms = np.random.default_rng(seed).random((count, CROP_TRIES, 4))
    return np.array([REFERENCE[sampler](height, width, u, scale) for u in uniforms])


@pytest.mark.parametrize("sampler", ["torchvision", "probe"])
@pytest.mark.parametrize("height, width, scale", [
    (32, 32, (0.08, 1.0)), (375, 500, (0.2, 1.0)), (500, 375, (0.08, 1.0)),
    (40, 100, (0.08, 1.0)), (100, 40, (0.5, 1.0)), (7, 9, (0.08, 1.0)),
])
def test_crop_box_is_the_references_for_the_same_draws(sampler, height, width, scale):
    rng = np.random.default_rng(height * width)
    uniforms = rng.random((600, CROP_TRIES, 4))
    # Draws no try of which fits (the largest area at the widest or tallest aspect), so that
    # torchvision falls back to its centre crop, and draws that fit only at the last try.
    uniforms[:100, :, :2] = [0.999, 0.999]
    uniforms[100:200, :, :2] = [0.999, 0.001]
    uniforms[200:300, :-1, :2] = [0.999, 0.999]
    expected = np.array([REFERENCE[sampler](height, width, u, scale) for u in uniforms])
    np.testing.assert_array_equal(tf_boxes(sampler, height, width, uniforms, scale), expected)


def test_the_fallback_and_the_late_tries_are_exercised():
    """The draws of the test above reach torchvision's fallback and its tenth try."""
    uniforms = np.full((CROP_TRIES, 4), 0.5)
    uniforms[:, :2] = [0.999, 0.999]
    assert torchvision_box(40, 100, uniforms, (0.08, 1.0)) == (0, 23, 40, 53)  # centre, 4:3
    uniforms[-1, :2] = [0.0, 0.5]
    assert torchvision_box(40, 100, uniforms, (0.08, 1.0))[2:] == (18, 18)


def ks_statistic(a, b):
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs."""
    points = np.union1d(a, b)
    cdf_a = np.searchsorted(np.sort(a), points, side="right") / len(a)
    cdf_b = np.searchsorted(np.sort(b), points, side="right") / len(b)
    return np.abs(cdf_a - cdf_b).max()


@pytest.mark.parametrize("sampler, scale", [
    ("torchvision", (0.2, 1.0)), ("torchvision", (0.08, 1.0)), ("probe", (0.08, 1.0)),
])
@pytest.mark.parametrize("height, width", [(32, 32), (375, 500)])
def test_seeded_crops_have_the_references_area_and_aspect(sampler, scale, height, width):
    drawn = seeded_boxes(sampler, height, width, scale, count=4000)
    expected = reference_boxes(sampler, height, width, scale, count=20000)
    for boxes in (drawn, expected):
        assert np.all(boxes[:, :2] >= 0)
        assert np.all(boxes[:, 0] + boxes[:, 2] <= height)
        assert np.all(boxes[:, 1] + boxes[:, 3] <= width)
    areas = [b[:, 2] * b[:, 3] / (height * width) for b in (drawn, expected)]
    aspects = [b[:, 3] / b[:, 2] for b in (drawn, expected)]
    # KS at 4000 vs 20000 draws: 0.034 is its 0.1% critical value (1.95 sqrt(1/4000 + 1/20000));
    # TF's sample_distorted_bounding_box, the sampler before, is 0.09-0.28 off in area (measured).
    assert ks_statistic(*areas) < 0.034
    assert ks_statistic(*aspects) < 0.034
    # The mean area: its standard error at 4000 draws is ~0.004.
    assert abs(areas[0].mean() - areas[1].mean()) < 0.015
    # Offsets uniform over the room left: a mean of half the room.
    room = height - drawn[:, 2]
    assert abs(np.mean(drawn[:, 0] - room / 2)) < 0.05 * max(1, room.mean())


def test_the_probe_crops_are_larger_than_fine_tunings():
    """The reference's probe sampler clamps instead of re-drawing: on square images its mean
    area is ~0.52 against torchvision's ~0.48 at the same scale (0.08, 1)."""
    probe = reference_boxes("probe", 32, 32, (0.08, 1.0), count=20000)
    finetune = reference_boxes("torchvision", 32, 32, (0.08, 1.0), count=20000)
    probe_area = (probe[:, 2] * probe[:, 3]).mean() / 1024
    finetune_area = (finetune[:, 2] * finetune[:, 3]).mean() / 1024
    assert 0.5 < probe_area < 0.54 and 0.46 < finetune_area < 0.5, (probe_area, finetune_area)


@pytest.mark.parametrize("sampler", ["torchvision", "probe"])
def test_random_resized_crop_resizes_the_references_box(sampler):
    """The crop is the reference's box of the seed's draws, resized bicubically."""
    image = tf.constant(np.random.default_rng(3).integers(0, 256, (45, 60, 3), dtype=np.uint8))
    scale = (0.08, 1.0)
    for i in range(5):
        seed = tf.constant([i, 11], tf.int64)
        uniforms = tf.random.stateless_uniform([CROP_TRIES, 4], seed, dtype=tf.float64).numpy()
        top, left, h, w = REFERENCE[sampler](45, 60, uniforms, scale)
        expected = tf.clip_by_value(tf.image.resize(
            image[top:top + h, left:left + w], (16, 16), method="bicubic", antialias=True), 0, 255)
        mapped = next(iter(tf.data.Dataset.from_tensors(image).map(
            lambda x: random_resized_crop(x, seed, (16, 16), scale, sampler=sampler))))
        np.testing.assert_allclose(mapped, expected, atol=1e-4)


class _Recorded(Exception):
    pass


@pytest.mark.parametrize("task, sampler", [("linprobe", "probe"), ("finetune", "torchvision")])
def test_each_task_crops_with_its_references_sampler(task, sampler, monkeypatch, tmp_path):
    """main_linprobe.py crops with util/crop.py, main_finetune.py with timm's (torchvision's)."""
    from keras_mae.training import evaluate
    from keras_mae.training.config import finetune_config, linprobe_config

    def record(*args, **kwargs):
        raise _Recorded(kwargs["crop_sampler"])

    monkeypatch.setattr(evaluate, "make_classification_dataset", record)
    config = {"linprobe": linprobe_config, "finetune": finetune_config}[task]()
    config.batch_size = 64
    config.model.preset = "mae_vit_micro_patch4_28_grey"
    with pytest.raises(_Recorded, match=f"^{sampler}$"):
        evaluate.train_classifier(config, tmp_path)


def test_the_recipes_crop_the_papers_area_ranges():
    """Appendix A.1-A.3: pretraining crops 0.2-1 of the image, fine-tuning and probing 0.08-1."""
    from keras_mae.training.config import default_config, finetune_config, linprobe_config

    assert tuple(default_config().data.crop_scale) == (0.2, 1.0)
    assert tuple(finetune_config().augment.crop_scale) == (0.08, 1.0)
    assert tuple(linprobe_config().augment.crop_scale) == (0.08, 1.0)
