"""Distribution on CPU: MirroredStrategy over 2 logical devices, XLA, bf16, and the TPU path."""

import types

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_mae import MaskedAutoencoder
from keras_mae.data import make_dataset, sample_source
from keras_mae.training import distribute
from keras_mae.training.config import default_config
from keras_mae.xla import jit_compile_for

from conftest import TINY, make_mae, random_batch


def batch_with_noise(model, batch, seed=0):
    images, noise = random_batch(model, batch, seed)
    return {"images": images, "noise": noise}


def train_one_step(strategy, initial_weights, batch, jit_compile, optimizer=None, remat=False):
    """One `fit` step from `initial_weights` under `strategy`: (updated weights, reported loss)."""
    with strategy.scope():
        model = make_mae(**TINY, norm_pix_loss=True, remat=remat)
        model.set_weights(initial_weights)
        model.compile(optimizer=optimizer or keras.optimizers.SGD(0.5), jit_compile=jit_compile)
    dataset = tf.data.Dataset.from_tensors(batch)
    history = model.fit(dataset, epochs=1, verbose=0)
    return [np.asarray(w) for w in model.weights], history.history["loss"][0]


@pytest.fixture(scope="module")
def initial_weights():
    return make_mae(**TINY).get_weights()


def assert_weights_close(actual, expected, rtol=1e-5):
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * np.abs(e).max())


def test_mirrored_step_equals_one_device_step_on_the_same_global_batch(initial_weights):
    batch = batch_with_noise(make_mae(**TINY), batch=8)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == 2
    one_device = tf.distribute.OneDeviceStrategy("/cpu:0")
    mirrored_weights, mirrored_loss = train_one_step(mirrored, initial_weights, batch, False)
    single_weights, single_loss = train_one_step(one_device, initial_weights, batch, False)
    # SGD: an update scaled by the replica count would show (Adam's first step would hide it).
    moved = [not np.array_equal(w, i) for w, i in zip(single_weights, initial_weights)]
    assert sum(moved) > len(moved) // 2
    assert_weights_close(mirrored_weights, single_weights)
    np.testing.assert_allclose(mirrored_loss, single_loss, rtol=1e-6)


def test_mirrored_step_with_remat_equals_one_device_plain_step(initial_weights):
    batch = batch_with_noise(make_mae(**TINY), batch=8, seed=2)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    # XLA stays off: TF 2.21 cannot compile a step distributed over CPU devices (train.py too).
    remat_weights, remat_loss = train_one_step(mirrored, initial_weights, batch, False, remat=True)
    one_device = tf.distribute.OneDeviceStrategy("/cpu:0")
    plain_weights, plain_loss = train_one_step(one_device, initial_weights, batch, False)
    assert_weights_close(remat_weights, plain_weights, rtol=1e-4)
    np.testing.assert_allclose(remat_loss, plain_loss, rtol=1e-5)


def test_replicas_draw_different_masks():
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with mirrored.scope():
        model = make_mae(**TINY, seed=0)
    images = np.zeros((2, *model.image_size, 3), "float32")
    masks = mirrored.run(lambda: model(images)["mask"])
    first, second = (np.asarray(m) for m in mirrored.experimental_local_results(masks))
    assert first.sum() == second.sum() and not np.array_equal(first, second)


def test_xla_and_plain_steps_agree(initial_weights):
    batch = batch_with_noise(make_mae(**TINY), batch=4, seed=1)
    strategy = tf.distribute.get_strategy()
    xla_weights, xla_loss = train_one_step(strategy, initial_weights, batch, True)
    plain_weights, plain_loss = train_one_step(strategy, initial_weights, batch, False)
    np.testing.assert_allclose(xla_loss, plain_loss, rtol=1e-5)
    assert_weights_close(xla_weights, plain_weights, rtol=1e-4)


def test_mixed_bfloat16_trains_on_real_images():
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        model = MaskedAutoencoder.from_preset("mae_vit_micro_patch4_28_grey", norm_pix_loss=True)
        assert model.backbone.blocks[0].mlp.fc1.compute_dtype == "bfloat16"
        assert model.backbone.blocks[0].mlp.fc1.kernel.dtype == "float32"
        dataset = make_dataset(sample_source("train"), (28, 28), (0.286,), (0.353,), 64)
        images = next(iter(dataset))
        assert model(images)["pred"].dtype == "bfloat16"
        assert model.compute_masked_loss(images, model(images)).dtype == "float32"
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), jit_compile=True)
        losses = model.fit(dataset.take(12), epochs=3, verbose=0).history["loss"]
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def config_with(**fields):
    config = default_config()
    for key, value in fields.items():
        setattr(config, key, value)
    return config


def test_auto_strategy_picks_a_named_tpu_else_one_device(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    assert distribute.resolve_strategy_name(config_with()) == "one_device"
    assert distribute.resolve_strategy_name(config_with(tpu="local")) == "tpu"
    monkeypatch.setenv("TPU_NAME", "my-tpu")
    assert distribute.resolve_strategy_name(config_with()) == "tpu"
    with pytest.raises(ValueError, match="Unknown strategy 'gpu'"):
        distribute.resolve_strategy_name(config_with(strategy="gpu"))


def test_tpu_strategy_is_built_as_the_tf_guide_prescribes(monkeypatch):
    calls = []
    fake_resolver = types.SimpleNamespace()

    def resolver(**kwargs):
        calls.append(("resolver", kwargs))
        return fake_resolver

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", resolver)
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster",
                        lambda r: calls.append(("connect", r)))
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system",
                        lambda r: calls.append(("initialize", r)))
    monkeypatch.setattr(tf.distribute, "TPUStrategy", lambda r: ("strategy", r))
    config = config_with(strategy="tpu", tpu="my-tpu", tpu_zone="us-central2-b", tpu_project="p")
    assert distribute.make_strategy(config) == ("strategy", fake_resolver)
    assert calls == [
        ("resolver", {"tpu": "my-tpu", "zone": "us-central2-b", "project": "p"}),
        ("connect", fake_resolver),
        ("initialize", fake_resolver),
    ]


def test_training_batches_have_the_static_shapes_xla_and_tpus_need():
    dataset = make_dataset(sample_source("validation"), (28, 28), (0.286,), (0.353,), 48)
    assert dataset.element_spec.shape.is_fully_defined()


def test_global_batch_must_split_evenly_over_replicas():
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    distribute.check_global_batch(64, mirrored)
    with pytest.raises(ValueError, match="not divisible by the 2 replicas.*batch_size=64"):
        distribute.check_global_batch(65, mirrored)


def test_xla_falls_back_only_for_cpu_mirrored(caplog):
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert jit_compile_for(tf.distribute.OneDeviceStrategy("/cpu:0"), True)
    assert not jit_compile_for(mirrored, False)
    assert not jit_compile_for(mirrored, True)
    assert "XLA is off" in caplog.text


def test_mixed_float16_scales_the_loss_and_keeps_the_loss_in_float32():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model = make_mae(**TINY, norm_pix_loss=True)
        model.compile(optimizer=keras.optimizers.AdamW(1e-3))
        batch = batch_with_noise(model, batch=4)
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        outputs = model(batch["images"], noise=batch["noise"])
        assert outputs["pred"].dtype == "float16"
        assert model.compute_masked_loss(batch["images"], outputs).dtype == "float32"
        losses = model.fit(tf.data.Dataset.from_tensors(batch).repeat(3), verbose=0)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert np.isfinite(losses.history["loss"][0])
    assert int(model.optimizer.iterations) == 3
