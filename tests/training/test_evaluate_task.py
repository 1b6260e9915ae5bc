"""Task "evaluate": a classifier's top-1 and top-5 on the held-out images, as the reference's
`main_finetune.py --eval`."""

import json

import numpy as np
import pytest

from keras_mae import ViTBackbone, ViTClassifier
from keras_mae.data import from_folder
from keras_mae.data.classification import make_classification_dataset
from keras_mae.errors import InputError
from keras_mae.models.presets import preset_arguments
from keras_mae.training.config import evaluate_config, use_cifar10
from keras_mae.training.evaluate import evaluate_classifier


def test_evaluate_reports_what_the_classifier_predicts(cifar_folder, tmp_path):
    backbone = ViTBackbone(**preset_arguments("mae_vit_micro_patch4_32")[0])
    classifier = ViTClassifier(backbone, num_classes=10, pooling="cls")
    classifier.head.kernel.assign(np.random.default_rng(0).normal(size=(128, 10)))
    classifier.save(tmp_path / "classifier.keras")
    config = use_cifar10(evaluate_config())
    config.init_checkpoint = str(tmp_path / "classifier.keras")
    config.data.train, config.data.eval = "", str(cifar_folder / "test")
    config.augment.crop_fraction = 1.0
    _, result = evaluate_classifier(config, tmp_path / "eval")

    source = from_folder(cifar_folder / "test")
    images, targets = zip(*make_classification_dataset(
        source, (32, 32), config.data.mean, config.data.std, 64, training=False,
        crop_fraction=1.0))
    logits = np.concatenate([np.asarray(classifier(batch)) for batch in images])
    labels = np.concatenate(targets).argmax(axis=1)
    top5 = np.argsort(-logits, axis=1)[:, :5]
    assert result["top1"] == pytest.approx((logits.argmax(axis=1) == labels).mean(), abs=1e-6)
    assert result["top5"] == pytest.approx((top5 == labels[:, None]).any(axis=1).mean(),
                                           abs=1e-6)
    assert json.loads((tmp_path / "eval" / "evaluation.json").read_text())["images"] == 1000


def test_evaluate_refuses_a_model_that_is_no_classifier(cifar_folder, tmp_path):
    from keras_mae import MaskedAutoencoder

    MaskedAutoencoder.from_preset("mae_vit_micro_patch4_32").save(tmp_path / "mae.keras")
    config = use_cifar10(evaluate_config())
    config.init_checkpoint = str(tmp_path / "mae.keras")
    config.data.train, config.data.eval = "", str(cifar_folder / "test")
    with pytest.raises(InputError, match="not a classifier"):
        evaluate_classifier(config, tmp_path / "eval")
