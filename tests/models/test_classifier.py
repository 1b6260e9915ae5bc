"""`ViTClassifier`: a task on a `ViTBackbone`, shared or cloned from a pretrained MAE, saved and
reloaded with its settings."""

import numpy as np
import pytest

import keras
from keras_mae import ViTBackbone, ViTClassifier
from keras_mae.convert.weights import model_weights
from keras_mae.errors import InputError
from keras_mae.models.presets import split_arguments

from conftest import TINY, make_mae


def _backbone(**changes):
    return ViTBackbone(**{**split_arguments(TINY)[0], **changes})


def test_a_classifier_shares_the_backbone_it_is_given():
    mae = make_mae(**TINY, seed=0)
    classifier = ViTClassifier(mae.backbone, num_classes=4, pooling="cls")
    assert classifier.backbone is mae.backbone
    images = np.random.default_rng(0).normal(size=(2, 16, 24, 3)).astype("float32")
    np.testing.assert_array_equal(classifier.features(images)["cls_token"],
                                  mae.features(images)["cls_token"])


def test_a_cloned_backbone_has_the_weights_and_the_changes_and_stays_apart():
    mae = make_mae(**TINY, seed=0)
    clone = mae.backbone.clone(drop_path_rate=0.2, trainable_pos_embed=True)
    assert clone.drop_path_rate == 0.2 and clone.pos_embed.trainable
    assert not mae.backbone.pos_embed.trainable
    for original, copied in zip(mae.backbone.weights, clone.weights):
        np.testing.assert_array_equal(original, copied)
    clone.cls_token.assign(clone.cls_token + 1.0)
    assert not np.allclose(mae.backbone.cls_token, clone.cls_token)


@pytest.mark.parametrize("settings", [
    dict(pooling="avg"),
    dict(pooling="cls", head_batch_norm=True, freeze_backbone=True),
])
def test_keras_file_round_trip_keeps_outputs_and_settings(tmp_path, settings):
    backbone = _backbone(drop_path_rate=0.1 if settings["pooling"] == "avg" else 0.0,
                         trainable_pos_embed=True)
    classifier = ViTClassifier(backbone, num_classes=3, **settings)
    images = np.random.default_rng(1).normal(size=(2, 16, 24, 3)).astype("float32")
    classifier.save(tmp_path / "classifier.keras")
    loaded = keras.models.load_model(tmp_path / "classifier.keras")
    assert loaded.get_config() == classifier.get_config()
    assert "backbone" in loaded.get_config()  # the backbone serialised once, under its key
    np.testing.assert_array_equal(loaded(images), classifier(images))
    weights = model_weights(loaded)
    trainable = {path for path, weight in weights.items()
                 if any(weight is w for w in loaded.trainable_weights)}
    if settings.get("freeze_backbone"):
        assert trainable == {"head/kernel", "head/bias"}
    else:
        assert "backbone/block_0/attn/qkv/kernel" in trainable
        assert "backbone/pos_embed" in trainable  # learnt in fine-tuning, as the reference's ViT
        # avg pooling normalises the pooled tokens (fc_norm); the final norm is not trained
        assert "backbone/norm/gamma" not in trainable and "fc_norm/gamma" in trainable
    mae = make_mae(**TINY)
    assert not any(w is mae.backbone.pos_embed for w in mae.trainable_weights)  # fixed sin-cos


def test_from_preset_builds_the_presets_backbone():
    classifier = ViTClassifier.from_preset("mae_vit_micro_patch4_32", num_classes=7,
                                           pooling="cls")
    assert classifier.backbone.num_layers == 6 and classifier.backbone.hidden_dim == 128
    assert classifier.head.units == 7 and classifier.pooling == "cls"


def test_drop_path_only_acts_while_training():
    classifier = ViTClassifier(_backbone(drop_path_rate=0.5), num_classes=3)
    images = np.random.default_rng(2).normal(size=(8, 16, 24, 3)).astype("float32")
    np.testing.assert_array_equal(classifier(images), classifier(images))
    assert not np.allclose(classifier(images, training=True), classifier(images, training=True))


def test_unknown_pooling_is_refused():
    with pytest.raises(InputError, match="Unknown pooling 'max'"):
        ViTClassifier(_backbone(), num_classes=2, pooling="max")


def test_probe_batch_norm_follows_the_references_running_statistics():
    """The probe's BatchNorm is the reference's `BatchNorm1d(affine=False, eps=1e-6)`, PyTorch
    momentum 0.1: after each training batch the moving mean is 0.9 x old + 0.1 x the batch's,
    as PyTorch's running mean (Keras' 0.99 default would move it ten times slower)."""
    torch = pytest.importorskip("torch")

    classifier = ViTClassifier(_backbone(), num_classes=3, pooling="cls", head_batch_norm=True,
                               freeze_backbone=True)
    norm = classifier.head_norm
    reference = torch.nn.BatchNorm1d(norm.moving_mean.shape[0], affine=False, eps=1e-6)
    assert not norm.center and not norm.scale and norm.epsilon == reference.eps
    rng = np.random.default_rng(0)
    for step in range(3):
        batch = rng.normal(2.0, 3.0, size=(64, reference.num_features)).astype("float32")
        old_mean = norm.moving_mean.numpy()
        outputs = norm(batch, training=True)
        np.testing.assert_allclose(norm.moving_mean, 0.9 * old_mean + 0.1 * batch.mean(0), atol=1e-6)
        np.testing.assert_allclose(outputs, reference(torch.from_numpy(batch)).detach(), atol=1e-4)
        np.testing.assert_allclose(norm.moving_mean, reference.running_mean, atol=1e-6)
        # PyTorch keeps the unbiased batch variance, Keras the biased: 1/63 apart here, 1/255
        # at CIFAR's batch of 256.
        np.testing.assert_allclose(norm.moving_variance, reference.running_var, rtol=1 / 63)
    reference.eval()
    held_out = rng.normal(2.0, 3.0, size=(8, reference.num_features)).astype("float32")
    np.testing.assert_allclose(norm(held_out, training=False),
                               reference(torch.from_numpy(held_out)).detach(), rtol=0.01, atol=0.01)
