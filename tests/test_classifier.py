"""`ViTClassifier`: built from a pretrained MAE, saved and reloaded with its settings."""

import numpy as np
import pytest

import keras
from keras_mae import MaskedAutoencoder, ViTClassifier
from keras_mae.errors import InputError

from conftest import TINY


def test_from_pretrained_starts_from_the_maes_encoder():
    mae = MaskedAutoencoder(**TINY, seed=0)
    classifier = ViTClassifier.from_pretrained(mae, num_classes=4, pooling="cls")
    images = np.random.default_rng(0).normal(size=(2, 16, 24, 3)).astype("float32")
    np.testing.assert_allclose(classifier.features(images)["cls_token"],
                               mae.features(images)["cls_token"], atol=1e-6)


@pytest.mark.parametrize("settings", [
    dict(pooling="avg", drop_path_rate=0.1),
    dict(pooling="cls", head_batch_norm=True, freeze_encoder=True),
])
def test_keras_file_round_trip_keeps_outputs_and_settings(tmp_path, settings):
    encoder = {k: v for k, v in TINY.items() if not k.startswith("decoder")}
    classifier = ViTClassifier(num_classes=3, **encoder, **settings)
    images = np.random.default_rng(1).normal(size=(2, 16, 24, 3)).astype("float32")
    classifier.save(tmp_path / "classifier.keras")
    loaded = keras.models.load_model(tmp_path / "classifier.keras")
    assert loaded.get_config() == classifier.get_config()
    np.testing.assert_array_equal(loaded(images), classifier(images))
    trainable = {w.path.split("/", 1)[1] for w in loaded.trainable_weights}
    if settings.get("freeze_encoder"):
        assert trainable == {"head/kernel", "head/bias"}
    else:
        assert "encoder/block_0/attn/qkv/kernel" in trainable
        assert "encoder/pos_embed" in trainable  # learnt in fine-tuning, as the reference's ViT
    mae_trainable = {w.path.split("/", 1)[1] for w in MaskedAutoencoder(**TINY).trainable_weights}
    assert "encoder/pos_embed" not in mae_trainable  # fixed sin-cos in pretraining


def test_a_source_without_a_needed_weight_is_refused_by_name():
    encoder = {k: v for k, v in TINY.items() if not k.startswith("decoder")}
    fine_tuned = ViTClassifier(num_classes=3, **encoder, pooling="avg")  # no final encoder norm
    with pytest.raises(InputError, match="no weight 'encoder/norm/gamma'"):
        ViTClassifier.from_pretrained(fine_tuned, num_classes=3, pooling="cls")


def test_drop_path_only_acts_while_training():
    encoder = {k: v for k, v in TINY.items() if not k.startswith("decoder")}
    classifier = ViTClassifier(num_classes=3, **encoder, drop_path_rate=0.5)
    images = np.random.default_rng(2).normal(size=(8, 16, 24, 3)).astype("float32")
    np.testing.assert_array_equal(classifier(images), classifier(images))
    assert not np.allclose(classifier(images, training=True), classifier(images, training=True))


def test_unknown_pooling_is_refused():
    with pytest.raises(ValueError, match="Unknown pooling 'max'"):
        ViTClassifier(num_classes=2, pooling="max")
