"""`remat`: recomputing the blocks' activations in the backward pass changes no loss and no
gradient, eagerly and under XLA, through the model's own training step too."""

import numpy as np
import pytest
import tensorflow as tf

from keras_mae import MaskedAutoencoder
from keras_mae.layers import TransformerBlock
from keras_mae.training.config import default_config
from keras_mae.optimizers import pretraining_adamw as adamw
from keras_mae.training.pretrain import build_model

from conftest import make_mae, random_batch


def twin_models(tiny_config):
    """The same MAE twice, with and without remat, holding the same weights."""
    plain = make_mae(**tiny_config, norm_pix_loss=True, seed=0)
    remat = make_mae(**tiny_config, norm_pix_loss=True, seed=0, remat=True)
    remat.set_weights(plain.get_weights())
    return plain, remat


def loss_and_gradients(model, images, noise):
    with tf.GradientTape() as tape:
        loss = model.compute_masked_loss(images, model(images, noise=noise, training=True))
    return loss, tape.gradient(loss, model.trainable_variables)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_remat_gives_the_same_loss_and_gradients(tiny_config, jit_compile):
    plain, remat = twin_models(tiny_config)
    images, noise = random_batch(plain, batch=3, seed=1)
    results = [
        tf.function(lambda i, n, m=model: loss_and_gradients(m, i, n), jit_compile=jit_compile)(
            images, noise
        )
        for model in (plain, remat)
    ]
    (loss, gradients), (remat_loss, remat_gradients) = results
    np.testing.assert_allclose(remat_loss, loss, rtol=1e-6)
    assert len(remat_gradients) == len(gradients) > 0
    for variable, gradient, remat_gradient in zip(
        plain.trainable_variables, gradients, remat_gradients
    ):
        assert np.any(np.asarray(gradient) != 0), variable.path
        np.testing.assert_allclose(
            remat_gradient, gradient, rtol=1e-4, atol=1e-7, err_msg=variable.path
        )


@pytest.mark.slow
def test_remat_training_steps_match_the_plain_ones(tiny_config):
    plain, remat = twin_models(tiny_config)
    initial = plain.get_weights()
    images, noise = random_batch(plain, batch=4, seed=1)
    for model in (plain, remat):
        model.compile(optimizer=adamw(model, learning_rate=1e-3), jit_compile=True)
        model.fit({"images": images, "noise": noise}, batch_size=2, epochs=2, shuffle=False,
                  verbose=0)
    assert all(np.any(a != b) for a, b in zip(initial, plain.get_weights()) if a.size > 1000)
    # Adam turns rounding-sized gradient differences of near-zero entries into ~lr-sized steps
    # of ~1e-6 weights (biases start at 0); the 4 steps move the weights by ~4e-3.
    for weight, remat_weight in zip(plain.get_weights(), remat.get_weights()):
        np.testing.assert_allclose(remat_weight, weight, rtol=1e-4, atol=2e-5)


def test_remat_is_a_config_field_and_survives_get_config():
    config = default_config()
    config.model.remat = True
    config.model.preset = "mae_vit_tiny_patch4_32"
    config.data.image_size, config.data.num_channels = (32, 32), 3
    model = build_model(config)
    assert model.backbone.remat and all(
        block.remat for block in (*model.backbone.blocks, *model.decoder.blocks)
    )
    assert MaskedAutoencoder.from_config(model.get_config()).decoder.blocks[0].remat


def test_remat_with_drop_path_is_refused():
    with pytest.raises(ValueError, match="remat and drop_path_rate"):
        TransformerBlock(32, 4, 64, drop_path_rate=0.1, remat=True)
