"""Random erasing against a NumPy port of timm 0.3.2's `RandomErasing._erase` (the reference's
`--reprob 0.25 --remode pixel --recount 1`)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_mae.data.erasing import ERASE_TRIES, erasing_box, random_erasing


def timm_box(img_h, img_w, uniforms, min_area=0.02, max_area=1 / 3, min_aspect=0.3):
    """timm's _erase for count 1, line by line, its draws taken from `uniforms` [10, 4] (per
    attempt: area, log-aspect, top, left; `random.randint(0, n)` as floor(u * (n + 1))).
    Returns (top, left, h, w), or None when no attempt fits."""
    log_aspect_ratio = (math.log(min_aspect), math.log(1 / min_aspect))
    area = img_h * img_w
    for u in uniforms:
        target_area = (min_area + u[0] * (max_area - min_area)) * area
        aspect_ratio = math.exp(log_aspect_ratio[0]
                                + u[1] * (log_aspect_ratio[1] - log_aspect_ratio[0]))
        h = int(round(math.sqrt(target_area * aspect_ratio)))
        w = int(round(math.sqrt(target_area / aspect_ratio)))
        if w < img_w and h < img_h:
            top = int(u[2] * (img_h - h + 1))
            left = int(u[3] * (img_w - w + 1))
            return top, left, h, w
    return None


def tf_boxes(height, width, uniforms):
    dataset = tf.data.Dataset.from_tensor_slices(uniforms).map(
        lambda u: tf.stack(erasing_box(height, width, u)))
    return np.concatenate(list(dataset.batch(4096).as_numpy_iterator()))


@pytest.mark.parametrize("height, width", [(32, 32), (224, 224), (20, 50)])
def test_erasing_box_is_timms_for_the_same_draws(height, width):
    uniforms = np.random.default_rng(height + width).random((600, ERASE_TRIES, 4))
    uniforms[:100, :, :2] = [0.999, 0.999]  # no attempt fits: nothing erased
    uniforms[100:200, :-1, :2] = [0.999, 0.001]  # only the last attempt fits
    expected = [timm_box(height, width, u) or (0, 0, 0, 0) for u in uniforms]
    np.testing.assert_array_equal(tf_boxes(height, width, uniforms), expected)
    assert expected[0] == (0, 0, 0, 0) and expected[100] != (0, 0, 0, 0)


def test_erasing_retries_where_one_draw_would_be_clipped():
    """Of timm's draws on 32x32 images 0.8% need a second attempt (the first box would not fit;
    one clipped draw, as before, erased a mean 0.176 of the image against timm's 0.175); the
    boxes erased have timm's distribution of area."""
    rng = np.random.default_rng(0)
    reference = [timm_box(32, 32, u) for u in rng.random((20000, ERASE_TRIES, 4))]
    retried = np.mean([timm_box(32, 32, u[:1]) is None for u in rng.random((20000, 1, 4))])
    assert 0.004 < retried < 0.015, retried
    seeds = tf.data.Dataset.range(4000).map(
        lambda i: tf.random.stateless_uniform([ERASE_TRIES, 4], tf.stack([i, 3]), dtype=tf.float64))
    drawn = tf_boxes(32, 32, np.stack(list(seeds.as_numpy_iterator())))
    areas = np.sort(drawn[:, 2] * drawn[:, 3])
    expected = np.sort([h * w for _, _, h, w in filter(None, reference)])
    assert abs(areas.mean() - expected.mean()) < 0.03 * expected.mean()
    quantiles = [0.1, 0.5, 0.9]
    np.testing.assert_allclose(np.quantile(areas, quantiles), np.quantile(expected, quantiles),
                               rtol=0.06)


def test_random_erasing_fills_the_box_with_noise_with_its_probability():
    image = tf.zeros((32, 32, 3))
    erased = tf.data.Dataset.range(400).map(
        lambda i: random_erasing(image, tf.stack([i, 7]), probability=0.25))
    touched = 0
    for result in erased.as_numpy_iterator():
        rows, cols = np.nonzero(np.any(result != 0, axis=-1))
        if len(rows):
            touched += 1
            area = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
            assert len(rows) == area  # one filled rectangle
            assert 0.6 < result[result != 0].std() < 1.4  # standard-normal noise
    assert 70 < touched < 130  # 100 expected
    assert np.all(random_erasing(image, tf.constant([1, 2]), probability=0.0).numpy() == 0)
