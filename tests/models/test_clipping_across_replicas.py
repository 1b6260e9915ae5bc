"""Clipping bounds the global batch's gradient: the replicas' gradients are summed first, then
accumulated, clipped and applied, so 2 replicas train as 1 device with clipping active."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mae import ViTClassifier
from keras_mae.models.replicas import sum_before_clipping
from keras_mae.training.config import finetune_config
from keras_mae.training.evaluate import build_classifier, train_classifier

from conftest import TINY, fresh_collective_keys, make_mae

# Strategies of later tests number their collectives as before this file's tests.
pytestmark = pytest.mark.usefixtures("restored_collective_keys")


def mirrored():
    """MirroredStrategy over the 2 logical CPUs of the tests."""
    fresh_collective_keys()
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def one_device():
    return tf.distribute.OneDeviceStrategy("/cpu:0")


def sgd_toy(strategy, **options):
    """w = 1, loss 2w (gradient 2) split over the replicas, SGD lr 1 with `options`: the weight
    after one update (after `gradient_accumulation_steps` steps if given)."""
    with strategy.scope():
        weight = keras.Variable(1.0)
        optimizer = keras.optimizers.SGD(1.0, **options)
        optimizer.build([weight])
    sum_before_clipping(optimizer)

    @tf.function
    def step():
        def on_replica():
            with tf.GradientTape() as tape:
                loss = 2.0 * weight.value / strategy.num_replicas_in_sync
            optimizer.apply(tape.gradient(loss, [weight.value]), [weight])

        strategy.run(on_replica)

    for _ in range(options.get("gradient_accumulation_steps") or 1):
        step()
    return float(weight.numpy())


@pytest.mark.parametrize("options", [
    dict(global_clipnorm=0.5), dict(clipnorm=0.5), dict(clipvalue=0.5),
    dict(global_clipnorm=0.5, gradient_accumulation_steps=2),
], ids=["global_clipnorm", "clipnorm", "clipvalue", "accumulated"])
def test_the_issue_sgd_toy_clips_the_summed_gradient(options):
    # Keras clipped each replica's share (1 -> 0.5) before summing: w = 1 - 2 x 0.5 = 0.
    assert sgd_toy(one_device(), **options) == 0.5
    assert sgd_toy(mirrored(), **options) == 0.5


def fit_mae(strategy, optimizer, weights, data, steps_per_execution=1):
    """`fit` a tiny MAE from `weights` on `data` under `strategy`: its weights after."""
    with strategy.scope():
        model = make_mae(**TINY, norm_pix_loss=True)
        model.set_weights(weights)
        model.compile(optimizer=optimizer(), jit_compile=False,
                      steps_per_execution=steps_per_execution)
    model.fit(data, epochs=1, verbose=0, shuffle=False)
    return [np.asarray(w) for w in model.weights]


def mae_batches(model, steps, batch=8, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(steps * batch, *model.image_size, 3)).astype("float32")
    noise = rng.random((steps * batch, model.num_patches)).astype("float32")
    return tf.data.Dataset.from_tensor_slices({"images": images, "noise": noise}).batch(batch)


def assert_same_weights(actual, expected, initial, atol=1e-6):
    assert any(not np.array_equal(a, i) for a, i in zip(expected, initial))
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=0, atol=atol)


# A tiny MAE's first gradients have a global norm of ~0.5-1 and single weights' of up to ~0.3:
# these thresholds bind on every step (checked by the step lengths below).
USER_OPTIMIZERS = {
    "SGD global_clipnorm": lambda: keras.optimizers.SGD(0.5, global_clipnorm=0.05),
    "AdamW clipnorm, 2 accumulated steps": lambda: keras.optimizers.AdamW(
        1e-3, clipnorm=0.01, gradient_accumulation_steps=2),
}


@pytest.mark.parametrize("name", USER_OPTIMIZERS)
def test_a_users_clipping_optimizer_trains_2_replicas_as_1_device(name):
    initial = make_mae(**TINY, norm_pix_loss=True).get_weights()
    data = mae_batches(make_mae(**TINY), steps=4)
    optimizer = USER_OPTIMIZERS[name]
    single = fit_mae(one_device(), optimizer, initial, data)
    replicas = fit_mae(mirrored(), optimizer, initial, data)
    assert_same_weights(replicas, single, initial)
    if name == "SGD global_clipnorm":  # each of the 4 updates is lr x the threshold long
        moved = np.sqrt(sum(np.sum((s - i) ** 2) for s, i in zip(single, initial)))
        assert 0.5 * 0.05 < moved < 4 * 0.5 * 0.05


def fit_classifier(strategy, weights, images, labels):
    with strategy.scope():
        model = ViTClassifier(make_mae(**TINY).backbone, num_classes=3)
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(0.5, global_clipnorm=0.01),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=False)
    model.fit(images, labels, batch_size=8, epochs=1, verbose=0, shuffle=False)
    return [np.asarray(w) for w in model.weights]


def test_the_classifier_clips_2_replicas_as_1_device():
    initial = ViTClassifier(make_mae(**TINY).backbone, num_classes=3).get_weights()
    rng = np.random.default_rng(1)
    images = rng.normal(size=(24, *TINY["image_size"], 3)).astype("float32")
    labels = rng.integers(0, 3, 24)
    single = fit_classifier(one_device(), initial, images, labels)
    replicas = fit_classifier(mirrored(), initial, images, labels)
    assert_same_weights(replicas, single, initial)


def clipping_config(strategy):
    """A few steps of fine-tuning on the bundled sample with clip_grad and 2 accumulated steps,
    its random draws off: drop path and mixing draw per replica, as the reference's do."""
    config = finetune_config()
    config.strategy = strategy
    config.model.preset = "mae_vit_micro_patch4_28_grey"
    config.data.image_size, config.data.num_channels, config.data.eval = (28, 28), 1, ""
    config.batch_size, config.epochs, config.steps_per_epoch = 16, 1, 4
    config.grad_accum_steps, config.optim.clip_grad = 2, 0.05
    config.model.drop_path_rate = 0.0
    config.augment.mixup_alpha = config.augment.cutmix_alpha = 0.0
    config.export_saved_model = False
    return config


@pytest.mark.slow  # two fine-tuning runs: ~1 min on 2 cores
def test_optim_clip_grad_trains_2_replicas_as_1_device(tmp_path):
    single, _ = train_classifier(clipping_config("one_device"), tmp_path / "one")
    fresh_collective_keys()
    replicas, _ = train_classifier(clipping_config("mirrored"), tmp_path / "two")
    assert replicas.distribute_strategy.num_replicas_in_sync == 2
    assert replicas.optimizer.global_clipnorm == 0.05
    keras.utils.set_random_seed(clipping_config("mirrored").seed)
    initial = build_classifier(clipping_config("mirrored"), 10).get_weights()
    assert_same_weights(replicas.get_weights(), single.get_weights(), initial)
