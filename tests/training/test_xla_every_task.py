"""TPU readiness, checked on a CPU: every task's training, evaluation and k-NN step compiles
under XLA on the data the task itself builds, whose shapes are static (training batches of a
fixed size; evaluation's last, partial batch is the one dynamic dimension, which TPUStrategy
pads). A step that ran a host function (`tf.py_function`, `numpy_function`) would not compile."""

import keras
import pytest
import tensorflow as tf

from keras_mae import ViTClassifier
from keras_mae.training import evaluate, pretrain as pretrain_module, runner
from keras_mae.training.config import (
    default_config, evaluate_config, finetune_config, knn_config, linprobe_config,
)

from conftest import TINY, make_mae

# Five XLA compilations of small models: minutes on 2 cores.
pytestmark = pytest.mark.slow

GREY_TINY = {**TINY, "image_size": (28, 28), "num_channels": 1}


class Captured(Exception):
    """Raised by a stand-in to stop a task once it has handed over its model and data."""


def on_sample(config, batch_size=8):
    """`config` on the bundled (grey, 28 px) sample, XLA on as by default."""
    config.data.image_size, config.data.num_channels = (28, 28), 1
    config.batch_size, config.jit_compile = batch_size, True
    if "epochs" in config:
        config.steps_per_epoch, config.epochs = 2, 1
    if "model" in config and "preset" in config.model:
        config.model.preset = "mae_vit_micro_patch4_28_grey"
    if "num_figure_images" in config:
        config.num_figure_images = 0
    if "export_saved_model" in config:
        config.export_saved_model = False
    return config


def capture_fit(monkeypatch, task, config, workdir):
    """(model, training data, held-out data) that `task` hands to `runner.fit`."""
    captured = {}

    def fit(job, model, train_data, eval_ds, extra_callbacks=lambda: []):
        captured.update(model=model, train_ds=train_data(), eval_ds=eval_ds)  # epoch 1
        raise Captured

    monkeypatch.setattr(runner, "fit", fit)
    with pytest.raises(Captured):
        task(config, workdir)
    return captured["model"], captured["train_ds"], captured["eval_ds"]


def assert_static(spec, batch_may_vary=False):
    """Every shape of `spec` fully defined (but the batch dimension, if allowed)."""
    for tensor_spec in tf.nest.flatten(spec):
        shape = tensor_spec.shape[1:] if batch_may_vary else tensor_spec.shape
        assert shape.is_fully_defined(), spec


def first_batch(dataset):
    """The first batch of `dataset` as arguments of `train_on_batch`/`test_on_batch`."""
    batch = next(iter(dataset))
    return batch if isinstance(batch, tuple) else (batch,)


def assert_compiles_under_xla(model, train_ds, eval_ds):
    """One training and one evaluation step of the task's compiled model, with XLA."""
    assert model.jit_compile is True
    model.train_on_batch(*first_batch(train_ds))
    assert int(model.optimizer.iterations) == 1
    model.test_on_batch(*first_batch(eval_ds))


def tiny_pretrained(path):
    make_mae(**GREY_TINY, seed=0).save(path)
    return str(path)


def test_pretraining_steps_compile_under_xla_on_static_shapes(monkeypatch, tmp_path):
    config = on_sample(default_config())
    model, train_ds, eval_ds = capture_fit(monkeypatch, pretrain_module.pretrain, config,
                                           tmp_path)
    assert_static(train_ds.element_spec)
    assert_static(eval_ds.element_spec)  # drop_remainder: its masks' noise is fixed per batch
    assert_compiles_under_xla(model, train_ds, eval_ds)


@pytest.mark.parametrize("make_config", [finetune_config, linprobe_config],
                         ids=["finetune", "linprobe"])
def test_classifier_training_steps_compile_under_xla_on_static_shapes(
        make_config, monkeypatch, tmp_path):
    config = on_sample(make_config())
    config.init_checkpoint = tiny_pretrained(tmp_path / "mae.keras")
    model, train_ds, eval_ds = capture_fit(monkeypatch, evaluate.train_classifier, config,
                                           tmp_path / "run")
    assert_static(train_ds.element_spec)
    assert_static(eval_ds.element_spec, batch_may_vary=True)
    assert_compiles_under_xla(model, train_ds, eval_ds)


def test_knn_features_compile_under_xla(monkeypatch, tmp_path):
    config = on_sample(knn_config())
    config.init_checkpoint = tiny_pretrained(tmp_path / "mae.keras")
    captured = {}

    def knn_top1(backbone, bank, queries, *args, **kwargs):
        captured.update(backbone=backbone, bank=bank, queries=queries)
        raise Captured

    monkeypatch.setattr(evaluate, "knn_top1", knn_top1)
    with pytest.raises(Captured):
        evaluate.knn_evaluation(config, tmp_path / "knn")
    features = tf.function(captured["backbone"].features, jit_compile=True)
    for data in (captured["bank"], captured["queries"]):
        assert_static(data.element_spec, batch_may_vary=True)
        images, _ = next(iter(data))
        assert features(images)["pooled"].shape == (config.batch_size, GREY_TINY["hidden_dim"])


def test_evaluation_step_compiles_under_xla(monkeypatch, tmp_path):
    path = tmp_path / "classifier.keras"
    ViTClassifier(make_mae(**GREY_TINY).backbone, num_classes=10).save(path)
    config = on_sample(evaluate_config())
    config.init_checkpoint = str(path)
    captured = {}

    def evaluate_model(model, dataset, **kwargs):
        captured.update(model=model, dataset=dataset)
        raise Captured

    monkeypatch.setattr(keras.Model, "evaluate", evaluate_model)
    with pytest.raises(Captured):
        evaluate.evaluate_classifier(config, tmp_path / "evaluation")
    model, dataset = captured["model"], captured["dataset"]
    assert_static(dataset.element_spec, batch_may_vary=True)
    assert model.jit_compile is True
    model.test_on_batch(*first_batch(dataset))
