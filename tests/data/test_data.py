import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_mae.data import from_arrays, from_folder, from_tfds, make_dataset, sample_source
from keras_mae.data.augment import pretraining_augment, random_resized_crop
from keras_mae.errors import InputError
from keras_mae.training.config import default_config, finetune_config

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck")


def test_bundled_sample_is_real_fashion_mnist():
    train, validation = sample_source("train"), sample_source("validation")
    assert (train.num_examples, validation.num_examples) == (9000, 1000)
    assert train.num_classes == 10
    image, label = next(iter(train.dataset))
    assert image.shape == (28, 28, 1) and image.dtype == tf.uint8
    labels = np.array([int(l) for _, l in validation.dataset])
    assert set(labels) == set(range(10))
    pixels = np.stack([i.numpy() for i, _ in sample_source("all").dataset.take(2000)]) / 255
    assert abs(pixels.mean() - 0.286) < 0.01 and abs(pixels.std() - 0.353) < 0.01


def test_folder_source_reads_real_jpegs_with_alphabetical_labels(cifar_folder):
    source = from_folder(cifar_folder / "test", num_channels=3)
    assert source.class_names == CIFAR_CLASSES
    assert source.num_examples == 1000
    images, labels = zip(*[(i.numpy(), int(l)) for i, l in source.dataset])
    assert all(i.shape == (32, 32, 3) and i.dtype == np.uint8 for i in images)
    assert np.bincount(labels).tolist() == [100] * 10


def test_folder_source_converts_to_grey_when_asked(cifar_folder):
    image, _ = next(iter(from_folder(cifar_folder / "test", num_channels=1).dataset))
    assert image.shape == (32, 32, 1)


def test_flat_folder_gives_unlabelled_images(cifar_folder):
    source = from_folder(cifar_folder / "test" / "cat")
    assert source.num_classes == 0
    assert {int(l) for _, l in source.dataset} == {-1}


def test_missing_and_empty_folders_are_refused(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        from_folder(tmp_path / "nope")
    (tmp_path / "empty" / "class_a").mkdir(parents=True)
    with pytest.raises(InputError, match="No images"):
        from_folder(tmp_path / "empty")


def test_tfds_source_loads_by_name():
    with tfds.testing.mock_data(num_examples=12):
        source = from_tfds("cifar10", "train")
        pairs = [(i.numpy(), int(l)) for i, l in source.dataset]
    assert source.num_classes == 10  # mock data carries no class names, only their count
    assert source.num_examples == len(pairs) == 12
    assert all(i.shape == (32, 32, 3) and 0 <= l < 10 for i, l in pairs)


def test_pipeline_normalises_with_the_given_mean_and_std():
    images = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    batch = next(iter(make_dataset(from_arrays(images), (8, 8), mean, std, 10, training=False)))
    expected = (images / 255.0 - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(batch, expected, atol=1e-5)


def test_training_batches_are_augmented_static_and_full():
    images = np.random.default_rng(1).integers(0, 256, (50, 40, 48, 3), dtype=np.uint8)
    dataset = make_dataset(from_arrays(images), (32, 32), (0.5,) * 3, (0.25,) * 3, 16)
    assert dataset.element_spec.shape == (16, 32, 32, 3)
    assert sum(1 for _ in dataset) == 3  # the partial batch is dropped
    two_epochs = make_dataset(from_arrays(images), (32, 32), (0.5,) * 3, (0.25,) * 3, 16, epochs=2)
    first, second = (np.concatenate(list(two_epochs))[epoch * 48:(epoch + 1) * 48]
                     for epoch in range(2))
    assert not np.allclose(np.sort(first.ravel()), np.sort(second.ravel()))  # new crops each epoch


def test_random_resized_crop_is_the_same_eagerly_and_inside_tf_data():
    image = tf.constant(np.random.default_rng(2).integers(0, 256, (40, 48, 3), dtype=np.uint8))
    seed = tf.constant([3, 4], tf.int64)
    eager = pretraining_augment(image, seed, (32, 32))
    mapped = next(iter(tf.data.Dataset.from_tensors((image, seed)).map(
        lambda i, s: pretraining_augment(i, s, (32, 32)))))
    np.testing.assert_allclose(eager, mapped, atol=1e-4)
    assert eager.shape == (32, 32, 3)
    assert 0 <= float(tf.reduce_min(eager)) and float(tf.reduce_max(eager)) <= 255


def crop_boxes(scale, count, image_shape=(120, 160), size=(64, 64)):
    """(widths, heights) of `count` crops of `random_resized_crop`, read from the crops: on an
    image whose two channels hold each pixel's column and row, the bicubic resize reproduces
    the linear ramp exactly away from the crop's edges, so a line fitted to the middle of an
    output row (column) gives the crop's width (height)."""
    height, width = image_shape
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    image = tf.constant(np.stack([cols, rows], axis=-1), tf.float32)
    middle = np.arange(size[0] // 4, 3 * size[0] // 4)
    widths, heights = [], []
    for i in range(count):
        crop = random_resized_crop(image, tf.constant([i, 5]), size, scale).numpy()
        # Output pixel j samples the crop at (j + 0.5) * extent / size - 0.5 (half-pixel centres).
        widths.append(np.polyfit(middle, crop[size[0] // 2, middle, 0], 1)[0] * size[1])
        heights.append(np.polyfit(middle, crop[middle, size[1] // 2, 1], 1)[0] * size[0])
    widths, heights = np.array(widths), np.array(heights)
    # whole pixels, read right (the antialiasing filter of a shrinking crop bends the fitted
    # slope by up to ~0.015 pixel; a wrong box would be off by whole pixels)
    np.testing.assert_allclose(widths, np.round(widths), atol=0.05)
    np.testing.assert_allclose(heights, np.round(heights), atol=0.05)
    return np.round(widths), np.round(heights)


def sampled_boxes(scale, count, image_shape=(120, 160), ratio=(3 / 4, 4 / 3), attempts=10):
    """(widths, heights) of `count` boxes drawn in NumPy as TensorFlow's
    sample_distorted_bounding_box documents and implements it (GenerateRandomCrop in
    sample_distorted_bounding_box_op.cc): an aspect ratio w / h uniform in `ratio`, a height
    uniform between those of the smallest and the largest allowed area (capped to fit), the
    area kept within `scale` of the image; the whole image after `attempts` failures."""
    rng = np.random.default_rng(0)
    height, width = image_shape
    min_area, max_area = scale[0] * height * width, scale[1] * height * width
    widths, heights = [], []
    for _ in range(count):
        box = (width, height)
        for _ in range(attempts):
            aspect = rng.uniform(*ratio)
            h = int(np.rint(np.sqrt(min_area / aspect)))
            top = int(np.rint(np.sqrt(max_area / aspect)))
            if np.rint(top * aspect) > width:
                top = int((width + 0.5 - 1e-7) / aspect)
                top -= int(np.rint(top * aspect) > width)
            top = min(top, height)
            h = min(h, top)
            h += int(rng.integers(0, top - h + 1)) if h < top else 0
            w = int(np.rint(h * aspect))
            if w * h < min_area:
                h += 1
                w = int(np.rint(h * aspect))
            if w * h > max_area:
                h -= 1
                w = int(np.rint(h * aspect))
            if min_area <= w * h <= max_area and 0 < w <= width and 0 < h <= height:
                box = (w, h)
                break
        widths.append(box[0])
        heights.append(box[1])
    return np.array(widths), np.array(heights)


@pytest.mark.parametrize("task", [
    "pretraining", "finetuning",
])
def test_random_resized_crop_draws_the_papers_area_and_aspect_ranges(task):
    scale = {"pretraining": default_config().data.crop_scale,
             "finetuning": finetune_config().augment.crop_scale}[task]
    assert tuple(scale) == {"pretraining": (0.2, 1.0), "finetuning": (0.08, 1.0)}[task]  # A.1, A.2
    widths, heights = crop_boxes(scale, count=1000)
    areas, aspects = widths * heights / (120 * 160), widths / heights
    # Within the ranges (the width is the rounded h x ratio: 0.5 / h of slack on the ratio).
    assert areas.min() >= scale[0] and areas.max() <= scale[1]
    assert np.all(aspects >= 3 / 4 - 0.5 / heights) and np.all(aspects <= 4 / 3 + 0.5 / heights)
    # And reaching both ends: of 1000 draws, the smallest within 0.02 of the lower bound (the
    # sampler puts ~5 % of its draws there), the largest above 0.9.
    assert areas.min() < scale[0] + 0.02 and areas.max() > 0.9, (areas.min(), areas.max())
    assert aspects.min() < 3 / 4 + 0.02 and aspects.max() > 4 / 3 - 0.02
    # Spread as the sampler draws: quantiles of 1000 crops against 20000 NumPy draws. An
    # empirical quantile of 1000 draws has a standard error of 0.003-0.009 here (densities of
    # 1 to 3 per unit of area, ~1.7 per unit of ratio): 0.03 is over 3 of them. Measured:
    # differences up to 0.013; a 0.08 lower bound that acts as 0.1 moves them by up to 0.033.
    expected_widths, expected_heights = sampled_boxes(scale, count=20000)
    quantiles = [0.1, 0.25, 0.5, 0.75, 0.9]
    np.testing.assert_allclose(
        np.quantile(areas, quantiles),
        np.quantile(expected_widths * expected_heights / (120 * 160), quantiles), atol=0.03)
    np.testing.assert_allclose(
        np.quantile(aspects, quantiles),
        np.quantile(expected_widths / expected_heights, quantiles), atol=0.03)
