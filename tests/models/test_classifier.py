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
