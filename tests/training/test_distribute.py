"""Distribution on CPU: MirroredStrategy over 2 logical devices, XLA, bf16, and the TPU path."""

import types

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_mae import MaskedAutoencoder
from keras_mae.data import make_dataset, sample_source
from keras_mae.layers.masking import random_masking
from keras_mae.models import masked_autoencoder
from keras_mae.training import distribute
from keras_mae.training.config import default_config

from conftest import TINY, fresh_collective_keys, make_mae, pretend_gpus, random_batch


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


def record_training_noise(monkeypatch, model):
    """Record (replica, step, noise) of every masking `model` does, where the step's masks
    are drawn (`random_masking` in `MaskedAutoencoder.call`); returns the growing list."""
    recorded = []

    def record(replica, step, noise):
        recorded.append((int(replica), int(step), np.array(noise)))
        return np.int32(0)

    def recording_masking(noise, keep):
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        done = tf.numpy_function(record, [replica, model.optimizer.iterations, noise], tf.int32)
        with tf.control_dependencies([done]):
            return random_masking(tf.identity(noise), keep)

    monkeypatch.setattr(masked_autoencoder, "random_masking", recording_masking)
    return recorded


def train_recording_noise(monkeypatch, first_step, steps):
    """`steps` fit steps of a seed-0 model on 2 CPU replicas, starting at optimizer step
    `first_step` (as after a resume): {(replica, step): noise [4, L]}."""
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with mirrored.scope():
        model = make_mae(**TINY, seed=0)
        model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
        model.optimizer.build(model.trainable_variables)
        model.optimizer.iterations.assign(first_step)
    recorded = record_training_noise(monkeypatch, model)
    images = np.zeros((8 * steps, *model.image_size, 3), "float32")
    model.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=1, verbose=0)
    noise = {(replica, step): value for replica, step, value in recorded}
    assert len(noise) == len(recorded) == 2 * steps  # one draw per replica and step
    return model, noise


def test_training_masks_differ_between_replicas_and_are_a_function_of_seed_step_and_replica(
        monkeypatch):
    model, noise = train_recording_noise(monkeypatch, first_step=0, steps=3)
    assert set(noise) == {(replica, step) for replica in (0, 1) for step in range(3)}
    for step in range(3):
        # sample_noise's derivation: the step folded into (seed, 0), then the replica id.
        step_seed = tf.random.experimental.stateless_fold_in([0, 0], step, alg="philox")
        for replica in (0, 1):
            seed = tf.random.experimental.stateless_fold_in(step_seed, replica, alg="philox")
            expected = tf.random.stateless_uniform((4, model.num_patches), seed=seed, alg="philox")
            np.testing.assert_array_equal(noise[replica, step], expected, f"{replica}, {step}")
        masks = [np.asarray(random_masking(noise[r, step], model.num_keep)[1]) for r in (0, 1)]
        assert masks[0].sum() == masks[1].sum() and not np.array_equal(*masks)
    assert not np.array_equal(noise[0, 0], noise[0, 1])  # a new mask every step
    # One device (replica 0) draws what replica 0 of the mirrored run drew.
    np.testing.assert_array_equal(model.sample_noise(4, step=tf.constant(2)), noise[0, 2])
    # A run resumed at step 1 draws the masks the uninterrupted run drew at steps 1 and 2.
    _, resumed = train_recording_noise(monkeypatch, first_step=1, steps=2)
    assert set(resumed) == {(replica, step) for replica in (0, 1) for step in (1, 2)}
    for key, value in resumed.items():
        np.testing.assert_array_equal(value, noise[key], f"{key}")


def test_xla_and_plain_steps_agree(initial_weights):
    batch = batch_with_noise(make_mae(**TINY), batch=4, seed=1)
    strategy = tf.distribute.get_strategy()
    xla_weights, xla_loss = train_one_step(strategy, initial_weights, batch, True)
    plain_weights, plain_loss = train_one_step(strategy, initial_weights, batch, False)
    np.testing.assert_allclose(xla_loss, plain_loss, rtol=1e-5)
    assert_weights_close(xla_weights, plain_weights, rtol=1e-4)


@pytest.mark.slow
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


def test_auto_strategy_picks_a_named_tpu_else_every_gpu_else_one_device(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    pretend_gpus(monkeypatch, 0)
    assert distribute.resolve_strategy_name(config_with()) == "one_device"
    assert distribute.resolve_strategy_name(config_with(tpu="local")) == "tpu"
    pretend_gpus(monkeypatch, 2)
    assert distribute.resolve_strategy_name(config_with()) == "mirrored"
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


class RecordingLossScaleOptimizer(keras.optimizers.LossScaleOptimizer):
    """Keeps the gradients it is given, before it unscales them (run eagerly)."""

    def apply(self, grads, trainable_variables=None):
        self.seen = [np.asarray(g, "float32") for g in grads]
        return super().apply(grads, trainable_variables)


def relative_error(actual, expected):
    return np.linalg.norm(actual - expected) / np.linalg.norm(expected)


def test_mixed_float16_steps_on_loss_scaled_gradients_that_unscale_to_the_float32_step():
    scale, lr = 2.0**12, 0.5
    model32 = make_mae(**TINY, norm_pix_loss=True)
    initial = model32.get_weights()
    batch = batch_with_noise(model32, batch=4)
    with tf.GradientTape() as tape:
        loss32 = model32.compute_masked_loss(
            batch["images"], model32(batch["images"], noise=batch["noise"], training=True))
    gradients32 = [np.asarray(g) for g in tape.gradient(loss32, model32.trainable_weights)]
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model = make_mae(**TINY, norm_pix_loss=True)
        model.set_weights(initial)
        optimizer = RecordingLossScaleOptimizer(keras.optimizers.SGD(lr), initial_scale=scale)
        model.compile(optimizer=optimizer, run_eagerly=True)
        outputs = model(batch["images"], noise=batch["noise"])
        assert outputs["pred"].dtype == "float16"
        assert model.compute_masked_loss(batch["images"], outputs).dtype == "float32"
        before = [np.asarray(w) for w in model.trainable_weights]
        history = model.fit(tf.data.Dataset.from_tensors(batch), verbose=0)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert model.optimizer is optimizer and int(optimizer.iterations) == 1
    assert float(optimizer.dynamic_scale) == scale  # the step was finite, hence applied
    np.testing.assert_allclose(history.history["loss"][0], float(loss32), rtol=1e-2)
    # float16 rounding: measured at most 1.3e-3 of relative error (Intel Xeon, 2 cores); a
    # missing, doubled or unremoved scale would be off by a factor of 2**12.
    for weight, seen, g32, old in zip(model.trainable_weights, optimizer.seen, gradients32,
                                      before):
        assert relative_error(seen, scale * g32) < 0.01, weight.path  # the scaled loss's
        step = old - np.asarray(weight)
        assert relative_error(step, lr * g32) < 0.01, weight.path  # the float32 SGD step


@pytest.mark.parametrize("first_compile_scales_the_loss", [True, False])
def test_a_model_compiled_again_under_mixed_float16_sums_the_replicas_once(
        first_compile_scales_the_loss, initial_weights, restored_collective_keys):
    """Every `compile` under mixed_float16 wraps the same optimizer in a new LossScaleOptimizer
    (one with `auto_scale_loss=False` does not wrap it): the newest wrapper sums the replicas'
    gradients, once. Before, a second wrapper did not sum at all: the replicas' copies drifted
    apart (by 0.014 after one step)."""
    batch = batch_with_noise(make_mae(**TINY), batch=8)
    fresh_collective_keys()
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    def trained(strategy, compiles):
        keras.mixed_precision.set_dtype_policy("mixed_float16")
        try:
            with strategy.scope():
                model = make_mae(**TINY, norm_pix_loss=True)
                model.set_weights(initial_weights)
                optimizer = keras.optimizers.SGD(0.5)
                for _ in range(compiles - 1):
                    model.compile(optimizer=optimizer, jit_compile=False,
                                  auto_scale_loss=first_compile_scales_the_loss)
                model.compile(optimizer=optimizer, jit_compile=False)
            assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
            model.fit(tf.data.Dataset.from_tensors(batch), verbose=0)
        finally:
            keras.mixed_precision.set_dtype_policy("float32")
        return model

    replicas = trained(mirrored, compiles=2)
    for variable in replicas.trainable_variables:
        first, second = mirrored.experimental_local_results(variable.value)
        np.testing.assert_array_equal(np.asarray(first), np.asarray(second))
    single = trained(tf.distribute.OneDeviceStrategy("/cpu:0"), compiles=1)
    # float16 rounding of the two replicas' halves against the whole batch's gradients.
    assert_weights_close(replicas.get_weights(), single.get_weights(), rtol=2e-3)
