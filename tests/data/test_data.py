import shutil

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_mae.data import from_arrays, from_folder, from_tfds, make_dataset, sample_source
from keras_mae.data.augment import pretraining_augment
from keras_mae.errors import InputError

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


def test_images_beside_class_folders_are_left_out_with_a_warning(small_cifar_folder, tmp_path,
                                                                caplog):
    classes = sorted((small_cifar_folder / "test").iterdir())[:2]
    for class_dir in classes:
        shutil.copytree(class_dir, tmp_path / class_dir.name)
    for loose in sorted(classes[0].glob("*.jpg"))[:3]:
        shutil.copyfile(loose, tmp_path / f"loose_{loose.name}")
    with caplog.at_level("WARNING"):
        source = from_folder(tmp_path)
    in_classes = sum(len(list(c.glob("*.jpg"))) for c in classes)
    assert source.num_examples == in_classes and not any("loose_" in f for f in source.files)
    assert "3 image(s) directly in" in caplog.text and "are ignored" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        from_folder(small_cifar_folder / "test")  # class folders alone: no warning
    assert "ignored" not in caplog.text


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
