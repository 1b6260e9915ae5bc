"""Layer-wise lr decay AdamW and LARS against NumPy re-derivations of the reference's rules."""

import numpy as np
import pytest

import keras
from keras_mae import ViTBackbone, ViTClassifier
from keras_mae.models.presets import split_arguments
from keras_mae.training.optimizers import LARS, LayerDecayAdamW, vit_layer_id

from conftest import TINY


def make_classifier():
    """A fine-tuning classifier on TINY's backbone (2 blocks)."""
    backbone = ViTBackbone(**split_arguments(TINY)[0], trainable_pos_embed=True, name="backbone")
    return ViTClassifier(backbone, 5)


@pytest.mark.parametrize("path, layer", [
    ("backbone/cls_token", 0), ("backbone/pos_embed", 0),
    ("backbone/patch_embed/projection/kernel", 0),
    ("backbone/block_0/mlp/fc1/kernel", 1), ("backbone/block_1/norm1/gamma", 2),
    ("vit_classifier/fc_norm/gamma", 3), ("vit_classifier/head/kernel", 3),
])
def test_layer_ids_follow_the_reference(path, layer):
    assert vit_layer_id(path, num_layers=2) == layer


def test_weight_decay_is_scaled_by_each_layers_learning_rate():
    model = make_classifier()
    optimizer = LayerDecayAdamW(0.1, num_layers=2, layer_decay=0.5, weight_decay=0.2)
    before = {w.path: np.asarray(w) for w in model.trainable_weights}
    # Zero gradients: Adam's step is zero, so only decoupled weight decay moves weights.
    optimizer.apply([np.zeros(w.shape, "float32") for w in model.trainable_weights],
                    model.trainable_weights)
    for weight in model.trainable_weights:
        scale = 0.5 ** (3 - vit_layer_id(weight.path, 2))
        decays = len(weight.shape) > 1 and weight.name not in ("cls_token", "pos_embed")
        expected = before[weight.path] * (1 - 0.1 * scale * 0.2) if decays else before[weight.path]
        np.testing.assert_allclose(np.asarray(weight), expected, rtol=1e-6, err_msg=weight.path)


def test_adam_steps_shrink_by_layer_decay_towards_the_input():
    model = make_classifier()
    optimizer = LayerDecayAdamW(1e-3, num_layers=2, layer_decay=0.5, weight_decay=0.0)
    before = {w.path: np.asarray(w) for w in model.trainable_weights}
    optimizer.apply([np.ones(w.shape, "float32") for w in model.trainable_weights],
                    model.trainable_weights)
    # Adam's first step is lr * g / (|g| + eps): lr * scale for a unit gradient.
    for weight in model.trainable_weights:
        step = before[weight.path] - np.asarray(weight)
        scale = 0.5 ** (3 - vit_layer_id(weight.path, 2))
        np.testing.assert_allclose(step, 1e-3 * scale, rtol=1e-4, err_msg=weight.path)


def lars_numpy(weights, gradients, lr, weight_decay, momentum, trust, steps):
    """MoCo v3's LARS, step by step, in NumPy."""
    weights = [w.copy() for w in weights]
    mu = [np.zeros_like(w) for w in weights]
    for _ in range(steps):
        for i, (w, g) in enumerate(zip(weights, gradients)):
            d = g.copy()
            if w.ndim > 1:
                d = d + weight_decay * w
                wn, dn = np.linalg.norm(w), np.linalg.norm(d)
                d = d * (trust * wn / dn if wn > 0 and dn > 0 else 1.0)
            mu[i] = momentum * mu[i] + d
            weights[i] = w - lr * mu[i]
    return weights


def test_lars_equals_a_numpy_derivation():
    rng = np.random.default_rng(0)
    initial = [rng.normal(size=(6, 4)).astype("float32"), rng.normal(size=(4,)).astype("float32")]
    gradients = [rng.normal(size=w.shape).astype("float32") for w in initial]
    variables = [keras.Variable(w) for w in initial]
    optimizer = LARS(0.5, weight_decay=0.1, momentum=0.9, trust_coefficient=0.01)
    for _ in range(3):
        optimizer.apply(gradients, variables)
    expected = lars_numpy(initial, gradients, 0.5, 0.1, 0.9, 0.01, steps=3)
    for variable, value in zip(variables, expected):
        np.testing.assert_allclose(np.asarray(variable), value, rtol=1e-5, atol=1e-6)


def test_optimizers_round_trip_through_their_config():
    for optimizer in (LayerDecayAdamW(1e-3, num_layers=12, layer_decay=0.65, weight_decay=0.05),
                      LARS(0.1, weight_decay=0.0, momentum=0.8)):
        config = optimizer.get_config()
        assert type(optimizer).from_config(config).get_config() == config
