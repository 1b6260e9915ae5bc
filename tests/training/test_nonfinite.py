"""NaN/Inf losses: the run stops with a message (nan_policy="stop") keeping the last good
checkpoint, or skips the step ("skip"), which then changes no weight on any replica."""

import json
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mae import MaskedAutoencoder
from keras_mae.errors import TrainingStopped
from keras_mae.training import pretrain as pretrain_module
from keras_mae.training.callbacks.stopping import NonFiniteLossPolicy
from keras_mae.training.config import default_config
from keras_mae.training.pretrain import pretrain

from conftest import TINY, make_mae


def state(model):
    variables = model.weights + model.optimizer.variables
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


@pytest.mark.parametrize("strategy_devices, jit_compile", [
    (["/cpu:0"], True),            # one device, XLA
    (["/cpu:0", "/cpu:1"], False),  # two replicas; the NaN is on the second one only
])
def test_a_skipped_nan_loss_step_changes_no_weight_and_is_counted(strategy_devices, jit_compile):
    if len(strategy_devices) == 1:
        strategy = tf.distribute.OneDeviceStrategy(strategy_devices[0])
    else:
        strategy = tf.distribute.MirroredStrategy(strategy_devices)
    with strategy.scope():
        model = make_mae(**TINY)
        model.skip_nonfinite_steps = True
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), jit_compile=jit_compile)
    images = np.random.default_rng(0).normal(size=(8, 16, 24, 3)).astype("float32")
    poisoned = images.copy()
    poisoned[7, 0, 0, 0] = np.nan  # the last image: the second replica's half of the batch
    model.fit(tf.data.Dataset.from_tensors(images), verbose=0)  # builds the optimizer
    before = state(model)

    history = model.fit(tf.data.Dataset.from_tensors(poisoned).repeat(2), verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(state(model), before))
    assert float(model.skipped_steps.result()) == 2.0
    assert history.history["skipped_steps"] == [2.0]  # the logs too (were halved on 2 replicas)
    assert history.history["loss"] == [0.0]  # no finite step to average

    history = model.fit(tf.data.Dataset.from_tensors(images), verbose=0)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 2
    assert float(model.skipped_steps.result()) == 0.0
    assert np.isfinite(history.history["loss"][0]) and history.history["loss"][0] > 0


def poison_training_batch(monkeypatch, index):
    """Make the `index`-th training batch of `pretrain` NaN (a NaN-producing input)."""
    make_dataset = pretrain_module.make_dataset

    def poisoned(*args, training=True, first_epoch=0, first_step=0, **kwargs):
        dataset = make_dataset(*args, training=training, first_epoch=first_epoch,
                               first_step=first_step, **kwargs)
        if not training:
            return dataset
        nan = tf.constant(np.nan, tf.float32)
        start = first_epoch * kwargs["steps_per_epoch"] + first_step  # the batches run before
        return dataset.enumerate(start).map(
            lambda i, images: tf.where(i == index, images * nan, images))

    monkeypatch.setattr(pretrain_module, "make_dataset", poisoned)


def nan_run_config(policy):
    config = default_config()
    config.model.preset = "mae_vit_micro_patch4_28_grey"
    config.batch_size, config.epochs, config.steps_per_epoch = 16, 3, 2
    config.data.eval, config.jit_compile, config.nan_policy = "", False, policy
    config.num_figure_images, config.export_saved_model = 2, False
    return config


def test_stop_policy_ends_the_run_at_the_nan_step_keeping_the_last_good_checkpoint(
        monkeypatch, tmp_path):
    poison_training_batch(monkeypatch, index=2)  # the first step of epoch 2
    with pytest.raises(TrainingStopped, match="NaN or Inf in epoch 2, at its step 1"):
        pretrain(nan_run_config("stop"), tmp_path)
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["epoch_001.keras"]
    [backup] = (tmp_path / "backup").glob("state-*")
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 1
    checkpoint = keras.models.load_model(tmp_path / "checkpoints" / "epoch_001.keras")
    assert all(np.isfinite(w).all() for w in checkpoint.get_weights())
    assert int(checkpoint.optimizer.iterations) == 2
    assert not (tmp_path / "model.keras").exists() and not (tmp_path / "history.json").exists()


@pytest.mark.slow
def test_skip_policy_skips_the_nan_step_and_finishes(monkeypatch, tmp_path, caplog):
    poison_training_batch(monkeypatch, index=2)
    with caplog.at_level("WARNING"):
        model, history = pretrain(nan_run_config("skip"), tmp_path)
    assert "Epoch 2: skipped 1 of 2 steps whose loss was NaN or Inf" in caplog.text
    assert int(model.optimizer.iterations) == 3 * 2 - 1
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert all(np.isfinite(history.history["loss"]))


def executions(policy, steps, steps_per_execution, skipped_per_step):
    """Feed `NonFiniteLossPolicy` one epoch's executions as Keras 3.11+ numbers them with
    `steps_per_execution`; `skipped_per_step[i]` says whether step i was skipped."""
    callback = NonFiniteLossPolicy(policy, "workdir")
    callback.set_params({"steps": steps})
    callback.set_model(types.SimpleNamespace(steps_per_execution=steps_per_execution))
    callback.on_epoch_begin(0)
    for first in range(0, steps, steps_per_execution):
        last = first + steps_per_execution - 1
        callback.on_train_batch_begin(first)
        callback.on_train_batch_end(last, {"skipped_steps": sum(skipped_per_step[:last + 1])})
    callback.on_epoch_end(0)


def test_an_epoch_all_skipped_stops_the_run_when_its_last_execution_is_partial():
    with pytest.raises(TrainingStopped, match="Every one of the 10 steps of epoch 1"):
        executions("skip", steps=10, steps_per_execution=3, skipped_per_step=[1] * 10)
    executions("skip", steps=10, steps_per_execution=3, skipped_per_step=[1] * 9 + [0])


def test_the_stop_message_names_the_execution_holding_the_nan_step():
    with pytest.raises(TrainingStopped, match="in epoch 1, in its steps 4-6"):
        executions("stop", steps=10, steps_per_execution=3, skipped_per_step=[0] * 4 + [1] * 6)
    with pytest.raises(TrainingStopped, match="in epoch 1, at its step 10"):
        executions("stop", steps=10, steps_per_execution=3, skipped_per_step=[0] * 9 + [1])
