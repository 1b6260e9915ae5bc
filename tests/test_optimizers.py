"""Layer-wise lr decay AdamW and LARS against NumPy re-derivations of the reference's rules."""

import subprocess
import sys

import numpy as np
import pytest

import keras
from keras_mae import ViTBackbone, ViTClassifier
from keras_mae.convert.weights import model_weights
from keras_mae.models.presets import split_arguments
from keras_mae.optimizers import LARS, LayerDecayAdamW, vit_layer_id

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


def reference_finetuning_groups(name, ndim, num_layers):
    """(lr scale, decays) of a classifier weight by the reference's util/lr_decay.py
    `param_groups_lrd`, from its name: layer 0 for cls_token, pos_embed and patch_embed, i + 1 for
    block i, num_layers + 1 for the rest; no decay for 1-D weights and {pos_embed, cls_token}."""
    parts = name.split("/")
    if parts[:2] in (["backbone", "cls_token"], ["backbone", "pos_embed"],
                     ["backbone", "patch_embed"]):
        layer_id = 0
    elif parts[0] == "backbone" and parts[1].startswith("block_"):
        layer_id = int(parts[1].split("_")[1]) + 1
    else:
        layer_id = num_layers + 1
    decays = not (ndim == 1 or parts[-1] in ("pos_embed", "cls_token"))
    return 0.5 ** (num_layers + 1 - layer_id), decays


def set_random_nonzero_weights(weights, seed=0):
    """Every weight to values of magnitude 0.5-1.5 and random sign: biases and LayerNorm offsets
    start at 0, where decay could not move them."""
    rng = np.random.default_rng(seed)
    for weight in weights:
        magnitude = rng.uniform(0.5, 1.5, weight.shape)
        weight.assign((magnitude * rng.choice([-1.0, 1.0], weight.shape)).astype("float32"))


def test_weight_decay_is_scaled_by_each_layers_learning_rate():
    model = make_classifier()
    named = {name: w for name, w in model_weights(model).items() if w.trainable}
    set_random_nonzero_weights(named.values())
    optimizer = LayerDecayAdamW(0.1, num_layers=2, layer_decay=0.5, weight_decay=0.2)
    before = {name: np.asarray(w) for name, w in named.items()}
    # Zero gradients: Adam's step is zero, so only decoupled weight decay moves weights.
    optimizer.apply([np.zeros(w.shape, "float32") for w in named.values()], list(named.values()))
    decayed = set()
    for name, weight in named.items():
        scale, decays = reference_finetuning_groups(name, len(weight.shape), num_layers=2)
        # PyTorch's AdamW: p *= 1 - lr * weight_decay, with the group's lr = lr * scale.
        expected = before[name] * (1 - 0.1 * scale * 0.2) if decays else before[name]
        np.testing.assert_allclose(np.asarray(weight), expected, rtol=1e-6, err_msg=name)
        decayed |= {name} if decays else set()
    # The rule spares the cls token and the position table, decays every matrix else.
    assert {"backbone/cls_token", "backbone/pos_embed"}.isdisjoint(decayed)
    assert {"backbone/patch_embed/projection/kernel", "backbone/block_1/attn/qkv/kernel",
            "head/kernel"} <= decayed


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


LOAD_IN_A_FRESH_PROCESS = """
import sys
import keras
import numpy as np
import keras_mae  # nothing else: the optimizers must be registered by this import alone
model = keras.models.load_model(sys.argv[1])
print(type(model.optimizer).__name__)
np.save(sys.argv[2], model.predict(np.load(sys.argv[3]), verbose=0))
"""


@pytest.mark.parametrize("freeze_backbone, optimizer", [(True, "LARS"),
                                                        (False, "LayerDecayAdamW")])
def test_probe_and_finetuning_checkpoints_load_after_import_keras_mae(
        tmp_path, freeze_backbone, optimizer):
    backbone = ViTBackbone(**split_arguments(TINY)[0], name="backbone")
    model = ViTClassifier(backbone, 5, freeze_backbone=freeze_backbone)
    model.compile(loss="sparse_categorical_crossentropy", jit_compile=False)
    images = np.random.default_rng(0).normal(size=(4, *TINY["image_size"], 3))
    model.fit(images.astype("float32"), np.arange(4), epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "images.npy", images.astype("float32"))
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_IN_A_FRESH_PROCESS, str(tmp_path / "model.keras"),
         str(tmp_path / "logits.npy"), str(tmp_path / "images.npy")],
        capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.split()[-1] == optimizer
    np.testing.assert_allclose(np.load(tmp_path / "logits.npy"),
                               model.predict(images.astype("float32"), verbose=0), atol=1e-5)
