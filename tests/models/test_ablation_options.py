"""The paper's ablations as model options (table 1): BERT's trivial head (decoder depth 0), mask
tokens in the encoder, and the loss on every patch; the defaults are MAE as before (the .keras
files of keras_mae 0.1 load with their old outputs: tests/models/test_loading.py)."""

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_mae import MaskedAutoencoder
from keras_mae.convert.weights import model_weights
from keras_mae.errors import InputError
from keras_mae.layers.patching import patchify

from conftest import TINY, make_mae, random_batch

VARIANTS = {
    "mae": {},
    "trivial_head": dict(decoder_num_layers=0),
    "mask_token_in_encoder": dict(mask_token_in_encoder=True),
    "loss_on_all": dict(loss_on="all"),
    "bert_design": dict(mask_ratio=0.15, decoder_num_layers=0, mask_token_in_encoder=True),
}


def encoder_token_counts(model):
    """Call the model once and return how many patch tokens the encoder's blocks saw."""
    seen = []
    encode_tokens = model.backbone.encode_tokens

    def recording(patch_tokens, **kwargs):
        seen.append(patch_tokens.shape[1])
        return encode_tokens(patch_tokens, **kwargs)

    model.backbone.encode_tokens = recording
    images, noise = random_batch(model)
    model(images, noise=noise)
    del model.backbone.encode_tokens
    return seen


@pytest.mark.parametrize("name", VARIANTS)
def test_each_variant_predicts_every_patch_and_round_trips(name, tmp_path):
    model = make_mae(**{**TINY, **VARIANTS[name]}, seed=0)
    images, noise = random_batch(model)
    outputs = model(images, noise=noise)
    assert outputs["pred"].shape == (2, model.num_patches, 4 * 4 * 3)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded(images, noise=noise)["pred"], outputs["pred"])


def test_the_mae_encoder_sees_the_visible_patches_and_bert_s_sees_them_all():
    mae = make_mae(**TINY, seed=0)
    assert encoder_token_counts(mae) == [mae.num_keep]  # 6 of 24
    bert = make_mae(**TINY, mask_token_in_encoder=True, seed=0)
    assert encoder_token_counts(bert) == [bert.num_patches]
    assert "mask_token" not in {w.name for w in bert.decoder.weights}  # no second mask token


def test_with_nothing_removed_mask_tokens_in_the_encoder_change_nothing():
    """At mask ratio 0 BERT's design is MAE: same weights, same predictions."""
    mae = make_mae(**TINY, mask_ratio=0.0, seed=0)
    bert = make_mae(**TINY, mask_ratio=0.0, mask_token_in_encoder=True, seed=1)
    weights = model_weights(mae)
    for path, weight in model_weights(bert).items():
        weight.assign(weights[path])
    images, noise = random_batch(mae)
    np.testing.assert_allclose(bert(images, noise=noise)["pred"],
                               mae(images, noise=noise)["pred"], atol=1e-5)


def test_mask_tokens_in_the_encoder_replace_the_removed_patches():
    """Removed patches' pixels cannot reach the prediction; visible ones do."""
    model = make_mae(**TINY, mask_token_in_encoder=True, seed=0)
    images, noise = random_batch(model)
    mask = np.asarray(model(images, noise=noise)["mask"])
    patches = np.asarray(patchify(images, 4))
    changed = patches + 5.0 * (mask[:, :, None] == 1)
    rows, cols = model.grid_size
    changed_images = changed.reshape(2, rows, cols, 4, 4, 3).transpose(0, 1, 3, 2, 4, 5)
    changed_images = changed_images.reshape(images.shape).astype("float32")
    np.testing.assert_allclose(model(changed_images, noise=noise)["pred"],
                               model(images, noise=noise)["pred"], atol=1e-5)


def test_decoder_depth_zero_is_one_linear_layer_from_encoder_width_to_pixels():
    model = make_mae(**{**TINY, "decoder_num_layers": 0}, seed=0)
    trainable = {path: w for path, w in model_weights(model).items()
                 if path.startswith("decoder/") and w.trainable}
    assert sorted(trainable) == ["decoder/mask_token", "decoder/pred/bias",
                                 "decoder/pred/kernel"]
    assert tuple(trainable["decoder/pred/kernel"].shape) == (TINY["hidden_dim"], 4 * 4 * 3)
    assert not model.decoder.blocks


@pytest.mark.parametrize("loss_on", ["masked", "all"])
def test_the_loss_covers_the_removed_patches_or_all_of_them(loss_on):
    model = make_mae(**TINY, loss_on=loss_on, seed=0)
    images, noise = random_batch(model)
    outputs = model(images, noise=noise)
    pred, mask = np.asarray(outputs["pred"]), np.asarray(outputs["mask"])
    rows, cols = model.grid_size
    target = images.reshape(2, rows, 4, cols, 4, 3).transpose(0, 1, 3, 2, 4, 5)
    per_patch = ((pred - target.reshape(2, rows * cols, -1)) ** 2).mean(axis=-1)
    weights = mask if loss_on == "masked" else np.ones_like(mask)
    expected = (per_patch * weights).sum() / weights.sum()
    loss = float(model.compute_masked_loss(images, outputs))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_an_unknown_loss_on_is_refused():
    with pytest.raises(InputError, match="Unknown loss_on 'visible'"):
        make_mae(**TINY, loss_on="visible")


def test_defaults_are_mae_and_build_the_same_weights():
    default = make_mae(**TINY, seed=0)
    assert not default.mask_token_in_encoder and default.loss_on == "masked"
    explicit = make_mae(**TINY, mask_token_in_encoder=False, loss_on="masked", seed=0)
    assert list(model_weights(default)) == list(model_weights(explicit))
    assert isinstance(default, MaskedAutoencoder)


def encoder_gradient_norms(model):
    """Norm of the masked loss's gradient for each of the encoder's weights, on one batch."""
    images, noise = random_batch(model)
    with tf.GradientTape() as tape:
        loss = model.compute_masked_loss(images, model(images, noise=noise, training=True))
    weights = model.backbone.trainable_weights
    return [0.0 if g is None else float(tf.norm(g)) for g in tape.gradient(loss, weights)]


def test_a_trivial_head_after_a_visible_only_encoder_gives_the_encoder_no_gradient():
    """Why MAE needs a decoder (results/ablations.json, decoder_depth_0): a per-token head
    predicts a removed patch from its mask token and position alone, so the masked loss never
    reaches the encoder; BERT's trivial head works because its encoder holds the mask tokens."""
    trivial = make_mae(**{**TINY, "decoder_num_layers": 0}, seed=0)
    assert max(encoder_gradient_norms(trivial)) == 0.0
    bert = make_mae(**{**TINY, "decoder_num_layers": 0, "mask_token_in_encoder": True}, seed=0)
    assert min(encoder_gradient_norms(bert)) > 0.0
    mae = make_mae(**TINY, seed=0)
    assert max(encoder_gradient_norms(mae)) > 0.0
