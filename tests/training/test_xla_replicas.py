"""XLA under MirroredStrategy: each replica compiles its own forward and backward pass
(`keras_mae.xla`), so a step over 2 devices runs with XLA on TensorFlow's merge_call branch (CPUs)
and on its all-GPU branch (emulated), with a GPU listed as a GPU host has, and ends where one
device ends. Keras' `jit_compile=True`, which compiles the whole `strategy.run`, fails there at
the first step ("Trying to access resource .../replica_1/...")."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.distribute import mirrored_strategy

from keras_mae import MaskedAutoencoder, ViTBackbone, ViTClassifier
from keras_mae.models.presets import split_arguments
from keras_mae.xla import OFF, PER_REPLICA, TPU_COMPILER, WHOLE_STEP, compiled_features, xla_scope

from conftest import TINY, fresh_collective_keys, make_mae, pretend_gpus, random_batch


@pytest.fixture(params=["merge_call branch", "all-GPU branch"])
def mirrored(request, monkeypatch, restored_collective_keys):
    """MirroredStrategy over 2 CPU devices on a host that lists GPUs, its devices taken for CPUs
    or, as on a GPU host, for GPUs (TF then picks its GPU all-reduce, and would synchronise
    without merge_call under an XLA-compiled `strategy.run`)."""
    pretend_gpus(monkeypatch, 2)
    all_gpu = request.param == "all-GPU branch"
    if all_gpu:
        monkeypatch.setattr(mirrored_strategy, "_is_gpu_device", lambda device: True)
    fresh_collective_keys()
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def one_device():
    return tf.distribute.OneDeviceStrategy("/cpu:0")


def assert_same_weights(actual, expected, tolerance=1e-5):
    assert max(float(np.abs(a - e).max()) for a, e in zip(actual, expected)) <= tolerance


def test_xla_compiles_the_whole_step_on_one_device_each_replica_on_several_and_nothing_on_tpus():
    tpu = object.__new__(type("FakeTPUStrategy", (tf.distribute.TPUStrategy,), {}))
    assert xla_scope(one_device()) == WHOLE_STEP
    assert xla_scope(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])) == PER_REPLICA
    assert xla_scope(one_device(), requested=False) == OFF
    assert xla_scope(tpu) == TPU_COMPILER  # the TPU compiles the replica function itself


def initial_weights(build):
    """The weights of `build()` under a fixed seed: every run starts from them."""
    keras.utils.set_random_seed(0)
    return build().get_weights()


def pretrain_and_evaluate(strategy):
    """(model, weights after `fit`, training loss, held-out loss) of the tiny MAE trained on 3
    batches at 2 steps per execution (an execution of 2 steps, then one of 1), XLA on."""
    with strategy.scope():
        model = make_mae(**TINY, norm_pix_loss=True)
        model.set_weights(initial_weights(lambda: make_mae(**TINY)))
        model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=True,
                      steps_per_execution=2)
    pairs = [random_batch(model, batch=8, seed=seed) for seed in range(3)]
    data = tf.data.Dataset.from_tensor_slices(
        {"images": np.stack([p[0] for p in pairs]), "noise": np.stack([p[1] for p in pairs])})
    loss = model.fit(data, epochs=1, verbose=0).history["loss"][0]
    held_out = model.evaluate(data, verbose=0)
    return model, [np.asarray(w) for w in model.weights], loss, held_out


@pytest.fixture(scope="module")
def one_device_pretraining():
    return pretrain_and_evaluate(one_device())


# The merge_call branch, which CPUs take, is also run by the fine-tuning test below; its
# pretraining run (~50 s) is left to the slow suite.
@pytest.mark.parametrize("mirrored", [pytest.param("merge_call branch", marks=pytest.mark.slow),
                                      "all-GPU branch"], indirect=True)
def test_pretraining_under_xla_on_two_replicas_ends_where_one_device_ends(
        mirrored, one_device_pretraining):
    model, mirrored_weights, mirrored_loss, mirrored_held_out = pretrain_and_evaluate(mirrored)
    assert (model.xla, model.jit_compile) == (PER_REPLICA, False)
    single_model, single_weights, single_loss, single_held_out = one_device_pretraining
    assert (single_model.xla, single_model.jit_compile) == (WHOLE_STEP, True)
    initial = initial_weights(lambda: make_mae(**TINY))
    assert not all(np.array_equal(w, i) for w, i in zip(single_weights, initial))
    assert_same_weights(mirrored_weights, single_weights)
    np.testing.assert_allclose(mirrored_loss, single_loss, rtol=1e-5)
    np.testing.assert_allclose(mirrored_held_out, single_held_out, rtol=1e-5)


def classifier():
    backbone_arguments, _ = split_arguments(dict(TINY))
    return ViTClassifier(ViTBackbone(**backbone_arguments, name="backbone"), num_classes=5)


FINE_TUNING_IMAGES = np.random.default_rng(0).normal(
    size=(16, *TINY["image_size"], 3)).astype("float32")
FINE_TUNING_LABELS = np.arange(16) % 5


def fine_tune_and_evaluate(strategy):
    """(weights after `fit`, training logs, held-out [loss, accuracy], k-NN features) of a tiny
    classifier, XLA on."""
    with strategy.scope():
        model = classifier()
        model.set_weights(initial_weights(classifier))
        model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=True,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    data = tf.data.Dataset.from_tensor_slices((FINE_TUNING_IMAGES, FINE_TUNING_LABELS)).batch(8)
    logs = model.fit(data, epochs=1, verbose=0).history
    held_out = model.evaluate(data, verbose=0)
    with strategy.scope():  # as the k-NN monitor runs inside fit
        features = compiled_features(model)(FINE_TUNING_IMAGES[:8])["pooled"].numpy()
    return [np.asarray(w) for w in model.weights], logs, held_out, features


@pytest.fixture(scope="module")
def one_device_fine_tuning():
    return fine_tune_and_evaluate(one_device())


def test_fine_tuning_and_knn_features_under_xla_on_two_replicas_equal_one_device(
        mirrored, one_device_fine_tuning):
    mirrored_run, single_run = fine_tune_and_evaluate(mirrored), one_device_fine_tuning
    assert_same_weights(mirrored_run[0], single_run[0])
    for name in ("loss", "accuracy"):
        np.testing.assert_allclose(mirrored_run[1][name], single_run[1][name], rtol=1e-5)
    np.testing.assert_allclose(mirrored_run[2], single_run[2], rtol=1e-5)
    np.testing.assert_allclose(mirrored_run[3], single_run[3], rtol=1e-5, atol=1e-6)


def test_a_step_xla_cannot_compile_runs_without_xla_after_one_warning(
        one_device_pretraining, monkeypatch, caplog, restored_collective_keys):
    original = MaskedAutoencoder._loss_and_gradients

    def with_a_host_call(self, images, noise):  # numpy_function has no XLA kernel
        loss, gradients = original(self, images, noise)
        return tf.ensure_shape(tf.numpy_function(lambda x: x, [loss], tf.float32), []), gradients

    monkeypatch.setattr(MaskedAutoencoder, "_loss_and_gradients", with_a_host_call)
    fresh_collective_keys()
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    model, weights, loss, held_out = pretrain_and_evaluate(mirrored)
    assert (model.xla, model.jit_compile) == (OFF, False)
    assert caplog.text.count("cannot compile MaskedAutoencoder's step here") == 1
    assert "PyFunc" in caplog.text
    _, single_weights, single_loss, _ = one_device_pretraining
    assert_same_weights(weights, single_weights)  # the first, failed step trained nothing
    np.testing.assert_allclose(loss, single_loss, rtol=1e-5)
