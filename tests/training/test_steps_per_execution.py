"""`steps_per_execution` N that does not divide an epoch's S steps: exactly S updates an epoch,
from that epoch's examples, the same weights as N=1, a killed run resumed exactly, throughput
counted in steps, and several steps per call under MirroredStrategy."""

import types

import keras
import numpy as np
import tensorflow as tf

from keras_mae.training.callbacks import throughput
from keras_mae.training.callbacks.throughput import TrainingThroughput
from keras_mae.training.epochs import fit_by_epoch
from keras_mae.training.pretrain import pretrain

from conftest import TINY, killed_after_backup, make_mae, random_batch, small_pretraining

def weights(model):
    return [np.asarray(w) for w in model.weights]


def checkpoint_steps(workdir):
    return [int(keras.models.load_model(path).optimizer.iterations)
            for path in sorted((workdir / "checkpoints").iterdir())]


def test_an_epoch_of_3_steps_at_2_per_execution_is_3_updates_and_resumes_exactly(
        tiny_model, monkeypatch, tmp_path):
    model, history = pretrain(small_pretraining(2), tmp_path / "n2")
    assert checkpoint_steps(tmp_path / "n2") == [3, 6]  # Keras alone: 4 in epoch 1, 2 in epoch 2
    one_at_a_time, history_1 = pretrain(small_pretraining(1), tmp_path / "n1")
    assert history.history["loss"] == history_1.history["loss"]  # the same batches each epoch
    for mine, theirs in zip(weights(model), weights(one_at_a_time)):
        np.testing.assert_array_equal(mine, theirs)

    killed = tmp_path / "killed"
    metadata = killed_after_backup(monkeypatch, lambda workdir: pretrain(
        small_pretraining(2), workdir), killed)
    assert metadata["epoch"] == 1
    resumed, _ = pretrain(small_pretraining(2), killed)  # the same command again
    assert checkpoint_steps(killed) == [6]
    for mine, theirs in zip(weights(resumed), weights(model)):
        np.testing.assert_array_equal(mine, theirs)


def test_throughput_counts_steps_not_executions(monkeypatch):
    """10 steps an epoch at 4 per execution: executions of 4, 4 and 2 steps; the first is left
    out, so 6 steps' images over the time from its end to the epoch's end (1 s here)."""
    clock = iter(range(100))
    monkeypatch.setattr(throughput, "time", types.SimpleNamespace(
        perf_counter=lambda: float(next(clock))))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", steps_per_execution=4)

    def batches(first_epoch, epochs, first_step):
        return tf.data.Dataset.from_tensors((tf.ones([8, 3]), tf.ones([8, 1]))).repeat(
            10 * (epochs - first_epoch) - first_step)

    history = fit_by_epoch(model, batches, [TrainingThroughput(global_batch_size=8)],
                           epochs=1, steps_per_epoch=10)
    assert int(model.optimizer.iterations) == 10
    assert history.history["train_images_per_sec"] == [6 * 8 / 1.0]


def test_several_steps_per_execution_run_under_mirrored_strategy_as_one_at_a_time():
    """5 batches at 3 steps per execution (Keras 3.15's own loop fails under MirroredStrategy:
    keras-team/keras#19246) give the weights of 5 single steps on one device."""
    initial = make_mae(**TINY).get_weights()
    images, noise = zip(*(random_batch(make_mae(**TINY), 8, seed) for seed in range(5)))
    dataset = tf.data.Dataset.from_tensor_slices({"images": np.stack(images),
                                                  "noise": np.stack(noise)})

    def train(strategy, steps_per_execution):
        with strategy.scope():
            model = make_mae(**TINY)
            model.set_weights(initial)
            model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False,
                          steps_per_execution=steps_per_execution)
        model.fit(dataset, epochs=1, verbose=0)
        assert int(model.optimizer.iterations.numpy()) == 5
        return weights(model)

    mirrored = train(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), 3)
    single = train(tf.distribute.OneDeviceStrategy("/cpu:0"), 1)
    moved = [not np.array_equal(w, i) for w, i in zip(single, initial)]
    assert sum(moved) > len(moved) // 2
    for mine, theirs in zip(mirrored, single):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-5 * np.abs(theirs).max())
