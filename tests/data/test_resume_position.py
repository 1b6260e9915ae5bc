"""A run resumed inside an epoch reads the batches the uninterrupted run reads next: the
pipelines skip the examples of the steps already done, for sources with random access
(permuted per epoch) and without (shuffled through a seeded buffer)."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mae.data import from_arrays, make_dataset
from keras_mae.data.classification import make_classification_dataset


def pretraining(source, **epochs):
    return make_dataset(source, (8, 8), (0.5,) * 3, (0.25,) * 3, 4, steps_per_epoch=5, **epochs)


def finetuning(source, **epochs):  # every augmentation, mixup and cutmix on
    return make_classification_dataset(source, (8, 8), (0.5,) * 3, (0.25,) * 3, 4,
                                       training=True, steps_per_epoch=5, **epochs)


@pytest.mark.parametrize("random_access", [True, False])
@pytest.mark.parametrize("pipeline", [pretraining, finetuning])
def test_batches_from_step_2_of_epoch_2_are_the_uninterrupted_runs(pipeline, random_access):
    keras.utils.set_random_seed(0)  # as every run does: tf.data then refuses tensor seeds
    rng = np.random.default_rng(0)
    source = from_arrays(rng.integers(0, 256, (30, 12, 12, 3)), rng.integers(0, 10, 30),
                         class_names=tuple("abcdefghij"))
    if not random_access:
        source = dataclasses.replace(source, read=None)
    whole = list(pipeline(source, epochs=2))
    resumed = list(pipeline(source, first_epoch=1, epochs=2, first_step=2))
    assert len(whole) == 2 * 5 and len(resumed) == 3
    for mine, theirs in zip(resumed, whole[5 + 2:]):
        for a, b in zip(tf.nest.flatten(mine), tf.nest.flatten(theirs)):
            np.testing.assert_array_equal(a, b)
    images = [tf.nest.flatten(batch)[0] for batch in (whole[5 + 1], resumed[0])]
    assert not np.array_equal(*images)  # the batches do differ
