"""`compile()` as a new user calls it gives the fast path and the paper's recipe: XLA wherever
TensorFlow can compile it (each replica's pass under several replicas), and the task's optimiser
when none is given."""

import keras
import pytest
import tensorflow as tf

from keras_mae import ViTBackbone, ViTClassifier
from keras_mae.models.presets import split_arguments
from keras_mae.optimizers import LARS, LayerDecayAdamW
from keras_mae.xla import OFF, PER_REPLICA

from conftest import TINY, make_mae


def test_compile_turns_xla_on_where_keras_auto_would_not():
    model = make_mae(**TINY)
    model.compile()
    assert model.jit_compile is True  # Keras' "auto" resolves to False on a CPU


def test_compile_under_mirrored_strategy_leaves_keras_whole_step_xla_off_for_each_replicas():
    with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
        model = make_mae(**TINY)
        model.compile()
    assert (model.jit_compile, model.xla) == (False, PER_REPLICA)
    model.compile(jit_compile=False)
    assert (model.jit_compile, model.xla) == (False, OFF)


def test_compile_without_an_optimizer_takes_the_papers_pretraining_adamw():
    model = make_mae(**TINY)
    model.compile(learning_rate=3e-4)
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.AdamW)
    assert (optimizer.beta_1, optimizer.beta_2, optimizer.weight_decay) == (0.9, 0.95, 0.05)
    assert float(optimizer.learning_rate) == pytest.approx(3e-4)
    model.compile(optimizer=keras.optimizers.SGD(0.1))  # a given optimizer is kept
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    with pytest.raises(ValueError, match="learning_rate is for compile"):
        model.compile(optimizer="sgd", learning_rate=0.1)


@pytest.mark.parametrize("frozen, expected", [(False, LayerDecayAdamW), (True, LARS)])
def test_a_classifier_takes_the_fine_tuning_or_probing_optimiser(frozen, expected):
    backbone = ViTBackbone(**split_arguments(TINY)[0])
    classifier = ViTClassifier(backbone, num_classes=3, freeze_backbone=frozen)
    classifier.compile(loss="categorical_crossentropy")
    assert isinstance(classifier.optimizer, expected)
    if not frozen:
        assert classifier.optimizer.num_layers == TINY["num_layers"]
