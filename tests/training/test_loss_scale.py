"""mixed_float16's loss scale, visible and safe: Keras' LossScaleOptimizer skips steps whose
scaled gradients overflow and halves its scale, silently; here the scale and the steps it
skipped are in the step logs (progress bar, history.json, TensorBoard), a run whose every step
of an epoch was skipped stops in one line, and backups keep the scale."""

import json
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mae.errors import TrainingStopped
from keras_mae.training.callbacks.stopping import NonFiniteLossPolicy
from keras_mae.training.pretrain import pretrain

from conftest import (
    TINY, fresh_collective_keys, killed_after_backup, make_mae, random_batch, small_pretraining,
)


@pytest.fixture
def float16():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    yield
    keras.mixed_precision.set_dtype_policy("float32")


def start_loss_scales_at(monkeypatch, scale):
    """Every LossScaleOptimizer Keras' `compile` makes starts at `scale` (Keras: 2^15)."""
    defaults = keras.optimizers.LossScaleOptimizer.__init__.__defaults__
    monkeypatch.setattr(keras.optimizers.LossScaleOptimizer.__init__, "__defaults__",
                        (scale, *defaults[1:]))


@pytest.mark.parametrize("devices", [["/cpu:0"], ["/cpu:0", "/cpu:1"]])
def test_steps_the_loss_scale_skipped_are_counted_and_the_scale_logged(
        devices, float16, monkeypatch, restored_collective_keys):
    start_loss_scales_at(monkeypatch, 2.0**30)  # a tiny MAE's gradients overflow float16 there
    fresh_collective_keys()
    strategy = (tf.distribute.OneDeviceStrategy(devices[0]) if len(devices) == 1
                else tf.distribute.MirroredStrategy(devices))
    with strategy.scope():
        model = make_mae(**TINY)
        model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=len(devices) == 1)
    images, noise = random_batch(model, batch=8)
    data = tf.data.Dataset.from_tensors({"images": images, "noise": noise}).repeat(3)
    model.fit(data.take(1), verbose=0)  # builds the optimizer; skipped too
    before = [np.asarray(w) for w in model.trainable_weights]
    logs = model.fit(data, verbose=0).history
    assert logs["loss_scale"] == [2.0**26]  # halved at each of the 4 steps
    assert logs["loss_scale_skips"] == [3.0] and logs["skipped_steps"] == [0.0]
    assert np.isfinite(logs["loss"][0])  # the loss itself looks normal
    assert all(np.array_equal(w, b) for w, b in zip(model.trainable_weights, before))


def epoch_of(policy, steps, loss_scale_skips, nan_skips=0):
    """`policy` driven by hand through an epoch of `steps` steps, one execution each."""
    policy.set_params({"steps": steps})
    policy.set_model(types.SimpleNamespace(steps_per_execution=1))
    policy.on_epoch_begin(0)
    for step in range(steps):
        policy.on_train_batch_begin(step)
        logs = {"loss": 1.0, "skipped_steps": float(min(step + 1, nan_skips)),
                "loss_scale_skips": float(min(step + 1, loss_scale_skips)), "loss_scale": 4.0}
        policy.on_train_batch_end(step, logs)
    policy.on_epoch_end(0, logs)


def test_an_epoch_the_loss_scale_skipped_whole_stops_the_run_in_one_line(tmp_path, caplog):
    epoch_of(NonFiniteLossPolicy("stop", tmp_path), steps=4, loss_scale_skips=3)  # goes on
    assert "the loss scale skipped 3 of 4 steps" in caplog.text
    with pytest.raises(TrainingStopped, match="Every one of the 4 steps of epoch 1 was skipped: "
                                              "3 by mixed_float16's loss scale.*1 for a NaN"):
        epoch_of(NonFiniteLossPolicy("skip", tmp_path), steps=4, loss_scale_skips=3,
                 nan_skips=1)


def test_a_killed_float16_run_resumes_with_the_loss_scale_it_had(
        tiny_model, float16, monkeypatch, tmp_path):
    start_loss_scales_at(monkeypatch, 2.0**20)  # it falls to where steps apply in epoch 1
    config = small_pretraining(1)
    config.steps_per_epoch = 12
    config.mixed_precision = "mixed_float16"
    whole, _ = pretrain(config, tmp_path / "whole")
    history = json.loads((tmp_path / "whole" / "history.json").read_text())
    assert history["loss_scale"][-1] == float(whole.optimizer.dynamic_scale) < 2.0**20
    assert 0 < history["loss_scale_skips"][0] < 12

    metadata = killed_after_backup(monkeypatch, lambda workdir: pretrain(config, workdir),
                                   tmp_path / "k")
    assert metadata["epoch"] == 1  # killed after epoch 1's backup, before epoch 2
    resumed, _ = pretrain(config, tmp_path / "k")
    assert float(resumed.optimizer.dynamic_scale) == float(whole.optimizer.dynamic_scale)
    for mine, theirs in zip(resumed.weights, whole.weights):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
