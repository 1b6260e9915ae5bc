"""Under several workers each worker reads and augments only the images its replicas get: the
same images as when every worker ran the whole pipeline, zeros elsewhere, nothing else read."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.data.experimental.ops import distribute as tf_data_distribute

from keras_mae.data import from_arrays, make_dataset
from keras_mae.data.classification import make_classification_dataset
from keras_mae.data.worker_share import WorkerShare, worker_share


def positions_tf_gives(worker, workers, replicas_per_worker, batch_size, batches=2):
    """The positions of `batches` global batches that worker `worker` receives, by tf.distribute's
    own split for `experimental_distribute_dataset`: rebatch for the worker, then DATA-shard."""
    dataset = tf.data.Dataset.range(batches * batch_size).batch(batch_size)
    dataset = dataset.rebatch(tf_data_distribute.batch_sizes_for_worker(
        batch_size, workers, replicas_per_worker, worker))
    dataset = tf_data_distribute._AutoShardDataset(dataset, workers, worker,
                                                   workers * replicas_per_worker)
    return sorted(int(p) for batch in dataset for p in batch.numpy())


@pytest.mark.parametrize("workers, replicas_per_worker, batch_size",
                         [(2, 1, 8), (2, 2, 24), (3, 2, 24), (4, 1, 32), (2, 4, 64)])
def test_a_worker_keeps_the_images_tf_distribute_gives_its_replicas(
        workers, replicas_per_worker, batch_size):
    for worker in range(workers):
        share = WorkerShare(worker, workers, workers * replicas_per_worker)
        positions = np.arange(2 * batch_size)
        kept = positions[share.keeps(tf.constant(positions, tf.int64), batch_size).numpy()]
        assert list(kept) == positions_tf_gives(worker, workers, replicas_per_worker,
                                                batch_size)


def test_one_device_and_one_host_read_everything():
    assert worker_share(tf.distribute.get_strategy()) is None
    assert worker_share(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])) is None


def images_and_labels(count=48, size=12):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (count, size, size, 3)), rng.integers(0, 4, count)


def counting_reads(source):
    """`source` whose reads are counted in the returned list."""
    reads = []

    def read(index):
        tf.py_function(lambda i: reads.append(int(i)), [index], [])
        return source.read(index)

    return dataclasses.replace(source, read=read), reads


def batches(dataset):
    return [tuple(np.asarray(part) for part in batch) if isinstance(batch, tuple)
            else np.asarray(batch) for batch in dataset]


def assert_share_of(shared, whole, share, batch_size):
    """Every image of `shared` equals `whole`'s where `share` keeps it, and is zero elsewhere."""
    assert len(shared) == len(whole)
    for step, (mine, all_of_them) in enumerate(zip(shared, whole)):
        positions = step * batch_size + np.arange(batch_size)
        kept = share.keeps(tf.constant(positions, tf.int64), batch_size).numpy()
        np.testing.assert_array_equal(mine[kept], all_of_them[kept])
        assert not mine[~kept].any()


@pytest.mark.parametrize("worker", [0, 1])
def test_pretraining_batches_hold_the_workers_images_and_read_only_them(worker):
    share = WorkerShare(worker, workers=2, replicas=4)
    images, _ = images_and_labels()
    options = dict(image_size=(8, 8), mean=(0.5,) * 3, std=(0.25,) * 3, batch_size=16, seed=3,
                   epochs=2)
    whole = batches(make_dataset(from_arrays(images), **options))
    source, reads = counting_reads(from_arrays(images))
    shared = batches(make_dataset(source, **options, share=share))
    assert_share_of(shared, whole, share, 16)
    assert len(reads) == len(whole) * 16 // 2  # half the images: this worker's


def test_sources_read_in_sequence_augment_only_the_workers_images():
    share = WorkerShare(1, workers=2, replicas=2)
    images, _ = images_and_labels()
    sequential = dataclasses.replace(from_arrays(images), read=None)  # like TFDS in TFRecord
    options = dict(image_size=(8, 8), mean=(0.5,) * 3, std=(0.25,) * 3, batch_size=16, seed=3)
    whole = batches(make_dataset(sequential, **options))
    assert_share_of(batches(make_dataset(sequential, **options, share=share)), whole, share, 16)


def classification(source, **options):
    return make_classification_dataset(
        source, (8, 8), (0.5,) * 3, (0.25,) * 3, 16, training=True, seed=5,
        rand_augment_policy="rand-m9-mstd0.5-inc1", erase_probability=0.5, **options)


def test_fine_tuning_batches_mixed_in_groups_within_a_replica_hold_the_workers_images():
    images, labels = images_and_labels()
    source = from_arrays(images, labels, class_names=("a", "b", "c", "d"))
    share = WorkerShare(0, workers=2, replicas=4)  # replica batches of 4: groups of 4 fit
    whole = batches(classification(source, mix_group_size=4))
    counted, reads = counting_reads(source)
    shared = batches(classification(counted, mix_group_size=4, share=share))
    assert_share_of([images for images, _ in shared], [images for images, _ in whole], share, 16)
    assert len(reads) == len(whole) * 16 // 2


def test_fine_tuning_reads_every_image_when_a_mixing_group_spans_replicas(caplog):
    images, labels = images_and_labels()
    counted, reads = counting_reads(from_arrays(images, labels, class_names=("a", "b", "c", "d")))
    share = WorkerShare(0, workers=2, replicas=4)
    with caplog.at_level("WARNING"):
        shared = batches(classification(counted, mix_group_size=8, share=share))
    assert "Each worker reads every training image" in caplog.text
    assert len(reads) == len(shared) * 16
    assert all(images.any(axis=(1, 2, 3)).all() for images, _ in shared)

