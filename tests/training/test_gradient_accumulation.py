"""Gradient accumulation (the reference's --accum_iter): N steps of batch B update the weights as
one step of batch N x B; each step draws its own masks; the lr follows the effective batch and is
held over an update; clipping (--clip_grad) bounds the update."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mae.errors import InputError
from keras_mae.models.masked_autoencoder import steps_taken
from keras_mae.training import pretrain
from keras_mae.training.checks import check_config
from keras_mae.training.config import default_config, finetune_config
from keras_mae.optimizers import PerUpdate, warmup_cosine
from keras_mae.training.runner import Job, whole_updates

from conftest import TINY, make_mae

STEPS, BATCH = 3, 4


def twin_models(**optimizer_options):
    """Two equal tiny MAEs on SGD(0.5): one accumulating STEPS steps per update, one not."""
    accumulating, plain = make_mae(**TINY, norm_pix_loss=False), make_mae(**TINY, norm_pix_loss=False)
    images = np.zeros((1, *accumulating.image_size, 3), "float32")
    accumulating(images), plain(images)
    plain.set_weights(accumulating.get_weights())
    accumulating.compile(keras.optimizers.SGD(0.5, gradient_accumulation_steps=STEPS,
                                              **optimizer_options), jit_compile=False)
    plain.compile(keras.optimizers.SGD(0.5, **optimizer_options), jit_compile=False)
    return accumulating, plain


def batches(model, seed=0):
    """STEPS batches of BATCH images with their masking noise."""
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(STEPS * BATCH, *model.image_size, 3)).astype("float32")
    noise = rng.random((STEPS * BATCH, model.num_patches)).astype("float32")
    return images, noise


def assert_same_weights(first, second, atol=1e-5):
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_allclose(a, b, atol=atol)


def test_accumulated_steps_update_as_one_step_of_the_whole_batch():
    accumulating, plain = twin_models()
    images, noise = batches(accumulating)
    before = [w.copy() for w in accumulating.get_weights()]
    for step in range(STEPS):
        part = slice(step * BATCH, (step + 1) * BATCH)
        accumulating.train_on_batch({"images": images[part], "noise": noise[part]})
        if step < STEPS - 1:  # nothing moves before the last step of the update
            for a, b in zip(accumulating.get_weights(), before):
                np.testing.assert_array_equal(a, b)
    plain.train_on_batch({"images": images, "noise": noise})
    assert not np.allclose(plain.get_weights()[0], before[0])
    assert_same_weights(accumulating, plain)
    assert int(accumulating.optimizer.iterations) == 1  # updates
    assert int(steps_taken(accumulating.optimizer)) == STEPS


def test_every_accumulated_step_draws_its_own_masks():
    accumulating, plain = twin_models()
    images, _ = batches(accumulating)
    images = images[:BATCH]
    for _ in range(STEPS):  # the same images each step, masks drawn by the model
        accumulating.train_on_batch(images)
    step_noise = [accumulating.sample_noise(BATCH, step=step) for step in range(STEPS)]
    assert not np.allclose(step_noise[0], step_noise[1])
    plain.train_on_batch({"images": np.concatenate([images] * STEPS),
                          "noise": np.concatenate(step_noise)})
    assert_same_weights(accumulating, plain)


def test_clipping_bounds_the_accumulated_update():
    accumulating, plain = twin_models(global_clipnorm=1e-3)
    images, noise = batches(accumulating)
    before = [w.copy() for w in plain.get_weights()]
    for step in range(STEPS):
        part = slice(step * BATCH, (step + 1) * BATCH)
        accumulating.train_on_batch({"images": images[part], "noise": noise[part]})
    plain.train_on_batch({"images": images, "noise": noise})
    assert_same_weights(accumulating, plain, atol=1e-7)
    moved = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(plain.get_weights(), before)))
    assert moved == pytest.approx(0.5 * 1e-3, rel=1e-3)  # lr x the clipped global norm


def job(config, steps_per_epoch=12):
    return Job(config, tf.distribute.get_strategy(), True, None, None, None, None,
               steps_per_epoch=steps_per_epoch, first_epoch=0)


@pytest.mark.parametrize("make_config", [default_config, finetune_config])
def test_the_learning_rate_follows_the_effective_batch_and_holds_over_an_update(make_config):
    config = make_config()
    config.batch_size, config.epochs, config.optim.warmup_epochs = 64, 4, 1
    config.grad_accum_steps = 4
    schedule = job(config).learning_rate_schedule()
    assert float(schedule(12)) == pytest.approx(config.optim.base_lr * 64 * 4 / 256)
    reference = warmup_cosine(config.optim.base_lr, 48, 12, config.optim.min_lr)
    for step in range(48):  # the lr of each update's first step, as the reference sets it
        first = step // 4 * 4
        assert float(schedule(step)) == pytest.approx(float(reference(first)) * 64 * 4 / 256)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(restored, PerUpdate) and float(restored(13)) == float(schedule(13))


@pytest.mark.slow  # ~60 s: train.py end to end; the steps' maths are pinned by the tests above
def test_train_py_accumulates(tmp_path):
    config = default_config()  # the bundled sample
    config.model.preset = "mae_vit_micro_patch4_28_grey"
    config.batch_size, config.epochs, config.steps_per_epoch = 16, 1, 8
    config.grad_accum_steps, config.optim.clip_grad = 4, 1.0
    config.eval_steps, config.num_figure_images = 1, 2
    config.export_saved_model = False  # serving: tests/tools/test_export.py
    model, history = pretrain.pretrain(config, tmp_path)
    assert int(model.optimizer.iterations) == 2 and int(steps_taken(model.optimizer)) == 8
    assert model.optimizer.global_clipnorm == 1.0
    assert len(history.history["loss"]) == 1


def test_an_epoch_is_cut_to_whole_updates():
    assert whole_updates(10, 4) == 8 and whole_updates(12, 4) == 12 and whole_updates(5, 1) == 5
    with pytest.raises(InputError, match="Lower --config.grad_accum_steps"):
        whole_updates(3, 4)


def test_steps_per_epoch_must_hold_whole_updates():
    config = default_config()
    config.steps_per_epoch, config.grad_accum_steps = 10, 4
    with pytest.raises(InputError, match="multiple of 4"):
        check_config(config)
