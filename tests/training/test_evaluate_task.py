"""Tasks "evaluate" (a classifier's top-1 and top-5 on the held-out images, as the reference's
`main_finetune.py --eval`) and "knn" (an encoder's weighted k-NN top-1)."""

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
    # The training split is not read: a missing one is no error.
    config.data.train, config.data.eval = str(tmp_path / "absent"), str(cifar_folder / "test")
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
    assert json.loads((tmp_path / "eval" / "config.json").read_text())["task"] == "evaluate"


def test_evaluate_refuses_a_model_that_is_no_classifier(cifar_folder, tmp_path):
    from keras_mae import MaskedAutoencoder

    MaskedAutoencoder.from_preset("mae_vit_micro_patch4_32").save(tmp_path / "mae.keras")
    config = use_cifar10(evaluate_config())
    config.init_checkpoint = str(tmp_path / "mae.keras")
    config.data.train, config.data.eval = "", str(cifar_folder / "test")
    with pytest.raises(InputError, match="holds a MaskedAutoencoder, not a ViTClassifier"):
        evaluate_classifier(config, tmp_path / "eval")


def test_the_knn_task_classifies_the_held_out_images_as_numpy_does(cifar_folder, tmp_path):
    from test_knn import _numpy_knn_top1

    from keras_mae.data.pipeline import labelled_batches
    from keras_mae.training.callbacks.knn import extract_features
    from keras_mae.training.config import knn_config
    from keras_mae.training.evaluate import knn_evaluation

    config = use_cifar10(knn_config())  # a random micro encoder, seeded by config.seed
    config.model.preset = "mae_vit_micro_patch4_32"
    config.data.train, config.data.eval = f"{cifar_folder / 'train'}[:400]", str(
        cifar_folder / "test")
    encoder, result = knn_evaluation(config, tmp_path / "knn")

    def features(split):
        source = from_folder(split)
        return extract_features(encoder, labelled_batches(
            source, (32, 32), config.data.mean, config.data.std, 100))

    bank, bank_labels = features(f"{cifar_folder / 'train'}[:400]")
    query, query_labels = features(cifar_folder / "test")
    for name, key in (("knn_top1", "pooled"), ("knn_top1_cls", "cls_token")):
        assert result[name] == pytest.approx(_numpy_knn_top1(
            bank[key], bank_labels, query[key], query_labels, 10, 20, 0.07), abs=1e-9)
    assert 0.15 < result["knn_top1"] < 0.6  # better than chance, as a random encoder is
    written = json.loads((tmp_path / "knn" / "knn.json").read_text())
    assert written["knn_top1"] == result["knn_top1"] and written["bank_size"] == 400
    assert json.loads((tmp_path / "knn" / "config.json").read_text())["task"] == "knn"
