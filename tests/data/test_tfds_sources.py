"""TFDS sources: ArrayRecord read by index in the folders' per-(seed, epoch) permutation, TFRecord
read in a new file order each epoch; both built offline from real CIFAR-10 JPEGs."""

from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow.python.distribute import input_ops

from keras_mae.data import from_folder, from_tfds
from keras_mae.data.pipeline import epoch_examples, shard_by_batch

NAME = "cifar10_jpeg"  # the data set of the `cifar_tfds` fixture: 400 JPEGs, 40 per class


def tfds_source(cifar_tfds, file_format):
    return from_tfds(NAME, "train", data_dir=str(cifar_tfds[file_format]), download=False,
                     num_channels=3)


def epochs(source, seed, first_epoch, last_epoch, shuffle_buffer=10_000):
    """[epoch][index] -> the image bytes read there, from `epoch_examples` (one epoch = the
    whole source)."""
    examples = epoch_examples(source, seed, first_epoch, last_epoch, source.num_examples,
                              shuffle_buffer)
    images = [image.numpy().tobytes() for image, _, _ in examples]
    size = source.num_examples
    return [images[start:start + size] for start in range(0, len(images), size)]


def stored_order(source):
    """image bytes -> its index in the source's stored order."""
    return {image.numpy().tobytes(): index for index, (image, _) in enumerate(source.dataset)}


def test_array_record_tfds_has_random_access_to_the_folders_images(cifar_tfds,
                                                                   small_cifar_folder):
    source = tfds_source(cifar_tfds, "array_record")
    folder = from_folder(small_cifar_folder / "train", num_channels=3)
    assert source.read is not None and source.num_examples == folder.num_examples == 400
    assert source.class_names == folder.class_names
    for index in (0, 137, 399):  # across its 4 files
        image, label = source.read(tf.constant(index, tf.int64))
        folder_image, folder_label = folder.read(tf.constant(index, tf.int64))
        np.testing.assert_array_equal(image, folder_image)
        assert int(label) == int(folder_label)


def test_array_record_epochs_are_the_folders_permutations(cifar_tfds, small_cifar_folder):
    source = tfds_source(cifar_tfds, "array_record")
    folder = from_folder(small_cifar_folder / "train", num_channels=3)
    read = epochs(source, seed=3, first_epoch=0, last_epoch=2)
    assert read == epochs(folder, seed=3, first_epoch=0, last_epoch=2)  # same index_shuffle
    index = stored_order(source)
    orders = [[index[image] for image in epoch] for epoch in read]
    assert all(sorted(order) == list(range(400)) for order in orders)  # each epoch: all, once
    assert orders[0] != orders[1]
    assert epochs(source, seed=3, first_epoch=1, last_epoch=2) == read[1:]  # a resumed run


def test_array_record_epochs_split_over_workers_without_overlap(cifar_tfds):
    source = tfds_source(cifar_tfds, "array_record")
    examples = epoch_examples(source, 5, 0, 1, 400).map(lambda image, label, position: position)
    batches = shard_by_batch(examples.batch(20, drop_remainder=True))
    per_worker = [
        np.concatenate(list(input_ops.auto_shard_dataset(batches, 2, worker, 2)))
        for worker in range(2)
    ]
    assert len(per_worker[0]) == len(per_worker[1]) == 200
    assert sorted(np.concatenate(per_worker)) == list(range(400))


def test_array_record_tfds_loads_by_name():
    array_record = tfds.core.file_adapters.FileFormat.ARRAY_RECORD
    with tfds.testing.mock_data(num_examples=12), mock.patch(
            "tensorflow_datasets.core.dataset_info.DatasetInfo.file_format",
            new_callable=mock.PropertyMock, return_value=array_record):
        source = from_tfds("cifar10", "train")
        examples = list(epoch_examples(source, 0, 0, 1, 12))
    assert source.read is not None and source.num_examples == 12 and source.num_classes == 10
    assert all(image.shape == (32, 32, 3) and 0 <= label < 10 for image, label, _ in examples)


def mean_displacement(epoch, index):
    """How far, on average, an epoch moves an example from its stored place."""
    return np.mean([abs(place - index[image]) for place, image in enumerate(epoch)])


def test_tfrecord_tfds_reads_a_new_file_order_each_epoch_reproducibly(cifar_tfds, caplog):
    source = tfds_source(cifar_tfds, "tfrecord")
    assert source.read is None  # no random access: files in sequence
    read = epochs(source, seed=3, first_epoch=0, last_epoch=3, shuffle_buffer=20)
    assert sum("stored as TFRecord" in r.message for r in caplog.records) == 1  # said once
    index = stored_order(source)
    assert all(sorted(index[image] for image in epoch) == list(range(400)) for epoch in read)
    assert len({tuple(epoch) for epoch in read}) == 3
    # Far from the stored order, as a uniform permutation is (mean 133 of 400), where a 20-image
    # buffer over files read in their stored order moves an image by ~20.
    assert all(mean_displacement(epoch, index) > 60 for epoch in read)
    assert epochs(source, seed=3, first_epoch=2, last_epoch=3, shuffle_buffer=20) == read[2:]


def test_a_config_reads_prepared_array_record_tfds_by_index(cifar_tfds):
    from keras_mae.training.config import default_config, use_imagenet
    from keras_mae.training.runner import load_source

    data = use_imagenet(default_config()).data
    data.tfds_name, data.tfds_data_dir = NAME, str(cifar_tfds["array_record"])
    source = load_source(data, "train[:50%]")
    assert source.read is not None and source.num_examples == 200
    image, label = source.read(tf.constant(199, tf.int64))
    assert image.shape == (32, 32, 3) and 0 <= int(label) < 10


@pytest.mark.parametrize("file_format", ["array_record", "tfrecord"])
def test_tfds_epoch_resumed_inside_reads_the_rest_of_the_uninterrupted_epoch(cifar_tfds,
                                                                           file_format):
    source = tfds_source(cifar_tfds, file_format)
    whole = epochs(source, seed=3, first_epoch=1, last_epoch=2, shuffle_buffer=20)[0]
    rest = epoch_examples(source, 3, 1, 2, 400, shuffle_buffer=20, first_example=150)
    read = [(image.numpy().tobytes(), int(position)) for image, _, position in rest]
    assert [image for image, _ in read] == whole[150:]
    assert [position for _, position in read] == list(range(550, 800))
