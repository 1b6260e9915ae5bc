"""README promises about data that no other test pinned (issue 17): more than 3 undecodable
images are all listed in `unreadable_images.txt`; multi-worker workers read different batches;
grey images go through fine-tuning's augmentation."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.distribute import input_ops

from keras_mae.data import make_dataset, sample_source
from keras_mae.data.classification import make_classification_dataset
from keras_mae.data.sample import fashion_mnist_sample
from keras_mae.errors import InputError
from keras_mae.training.config import default_config
from keras_mae.training.pretrain import pretrain

GREY = dict(mean=(0.2860,), std=(0.3530,))


@pytest.fixture
def folder_with_five_bad_images(tmp_path):
    """24 real images (the bundled sample's first, as PNG files) and 5 that cannot be decoded:
    truncated PNG and JPEG files cut from real ones, a PNG header alone, an empty file and a
    text file named .jpg."""
    root = tmp_path / "images"
    root.mkdir()
    images, _ = fashion_mnist_sample()
    for index in range(24):
        (root / f"{index:04d}.png").write_bytes(tf.io.encode_png(images[index]).numpy())
    png = (root / "0000.png").read_bytes()
    jpeg = tf.io.encode_jpeg(images[0]).numpy()
    bad = {
        root / "truncated.png": png[: len(png) // 2],
        root / "truncated.jpg": jpeg[: len(jpeg) // 2],
        root / "header_only.png": png[:16],
        root / "empty.png": b"",
        root / "notes.jpg": b"not an image, whatever the name says\n",
    }
    for path, data in bad.items():
        path.write_bytes(data)
    return root, sorted(str(path) for path in bad)


def test_more_than_3_undecodable_images_are_all_listed_in_unreadable_images_txt(
        folder_with_five_bad_images, tmp_path):
    root, bad = folder_with_five_bad_images
    config = default_config()
    config.model.preset = "mae_vit_micro_patch4_28_grey"
    config.data.source, config.data.train, config.data.eval = "folder", str(root), ""
    config.batch_size, config.epochs, config.jit_compile = 8, 1, False
    config.num_figure_images, config.export_saved_model = 0, False
    workdir = tmp_path / "run"
    with pytest.raises(InputError) as error:
        pretrain(config, workdir)
    listing = workdir / "unreadable_images.txt"
    message = str(error.value)
    assert message.startswith("5 image file(s) cannot be decoded: ")
    assert f"; and 2 more, all listed in {listing}." in message
    assert sum(file in message for file in bad) == 3  # the first three named in the line
    rows = [line.split("\t") for line in listing.read_text().splitlines()]
    assert sorted(file for file, _ in rows) == bad  # all five, and only them
    assert all(reason.strip() for _, reason in rows)
    assert not (workdir / "model.keras").exists()


def worker_batches(dataset, worker, workers=2):
    """The batches worker `worker` of `workers` (one replica each) reads: the rewrite that
    `MultiWorkerMirroredStrategy.experimental_distribute_dataset` applies on each worker
    (tf.distribute's input_ops.auto_shard_dataset), after the dataset's own sharding option."""
    sharded = input_ops.auto_shard_dataset(dataset, workers, worker,
                                           num_replicas_in_sync=workers)
    return [first_array(batch) for batch in sharded]


def first_array(batch):
    return (batch[0] if isinstance(batch, tuple) else batch).numpy()


@pytest.mark.parametrize("pipeline", ["pretraining", "probing", "held_out"])
def test_two_workers_read_disjoint_batches_that_together_are_the_whole_pipeline(pipeline):
    source = sample_source("validation")

    def build():
        if pipeline == "pretraining":
            return make_dataset(source, (28, 28), **GREY, batch_size=50, training=True,
                                seed=0, epochs=1, steps_per_epoch=6)
        if pipeline == "probing":  # linear probing's recipe: crops and flips
            return make_classification_dataset(
                source, (28, 28), **GREY, batch_size=50, training=True, seed=0,
                rand_augment_policy="", erase_probability=0.0, mixup_alpha=0.0, cutmix_alpha=0.0,
                label_smoothing=0.0, epochs=1, steps_per_epoch=6)
        return make_classification_dataset(source, (28, 28), **GREY, batch_size=250,
                                           training=False)

    policy = build().options().experimental_distribute.auto_shard_policy
    assert policy == tf.data.experimental.AutoShardPolicy.DATA
    whole = [first_array(batch) for batch in build()]
    assert len(whole) in (4, 6)
    first, second = worker_batches(build(), 0), worker_batches(build(), 1)
    assert len(first) == len(second) == len(whole) // 2
    for mine, expected in zip(first, whole[0::2]):
        np.testing.assert_array_equal(mine, expected)
    for mine, expected in zip(second, whole[1::2]):
        np.testing.assert_array_equal(mine, expected)
    assert not np.array_equal(first[0], second[0])


@pytest.mark.parametrize("policy", ["rand-m9-mstd0.5-inc1", "keras_cv"])
def test_finetuning_batches_of_grey_images_go_through_randaugment(policy):
    def batch(rand_augment_policy):
        dataset = make_classification_dataset(
            sample_source("validation"), (28, 28), **GREY, batch_size=8, training=True,
            rand_augment_policy=rand_augment_policy, erase_probability=0.0, mixup_alpha=0.0,
            cutmix_alpha=0.0, steps_per_epoch=1)
        return next(iter(dataset))

    images, targets = batch(policy)
    assert images.shape == (8, 28, 28, 1) and targets.shape == (8, 10)
    assert not np.array_equal(images, batch("")[0])  # the same crops, then RandAugment
