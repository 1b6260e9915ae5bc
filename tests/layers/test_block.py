"""The transformer block: attention against a NumPy re-derivation of timm's `Attention`, GELU,
drop path."""

import math

import keras
import numpy as np
import tensorflow as tf

from keras_mae.layers import DropPath, MultiHeadSelfAttention
from keras_mae.layers.mlp import gelu


def numpy_attention(x, qkv_kernel, qkv_bias, proj_kernel, proj_bias, heads):
    """x [B, N, D] -> softmax(q k^T / sqrt(d)) v per head, then the output projection."""
    batch, tokens, dim = x.shape
    head_dim = dim // heads
    qkv = (x @ qkv_kernel + qkv_bias).reshape(batch, tokens, 3, heads, head_dim)
    query, key, value = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    logits = np.einsum("bqhd,bkhd->bhqk", query, key) / np.sqrt(head_dim)
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    out = np.einsum("bhqk,bkhd->bqhd", weights, value).reshape(batch, tokens, dim)
    return out @ proj_kernel + proj_bias


def test_attention_equals_numpy_eagerly_and_under_xla():
    rng = np.random.default_rng(0)
    layer = MultiHeadSelfAttention(32, 4)
    layer.build((None, 7, 32))
    for weight in layer.weights:  # biases start at zero: make every weight count
        weight.assign(rng.normal(scale=0.3, size=weight.shape))
    x = rng.normal(size=(3, 7, 32)).astype("float32")
    weights = [np.asarray(w, np.float64) for w in
               (layer.qkv.kernel, layer.qkv.bias, layer.proj.kernel, layer.proj.bias)]
    expected = numpy_attention(x.astype(np.float64), *weights, heads=4)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-4, atol=1e-5)
    compiled = tf.function(layer, jit_compile=True)
    np.testing.assert_allclose(compiled(x), expected, rtol=1e-4, atol=1e-5)


def test_drop_path_drops_whole_samples_and_rescales_the_rest():
    branch = np.ones((400, 5, 8), "float32")
    dropped = np.asarray(DropPath(0.25, seed=0)(branch, training=True))
    per_sample = dropped.reshape(400, -1)
    assert np.all(per_sample == per_sample[:, :1])  # one decision per sample
    assert set(np.unique(per_sample)) == {0.0, np.float32(1 / 0.75)}
    assert 0.15 < np.mean(per_sample[:, 0] == 0) < 0.35
    np.testing.assert_array_equal(DropPath(0.25)(branch, training=False), branch)


def test_drop_path_on_one_device_draws_what_keras_random_draws():
    branch = np.ones((64, 3, 4), "float32")
    layer = DropPath(0.5, seed=7)
    generator = keras.random.SeedGenerator(7)
    for _ in range(3):  # the generator advances with each call
        keep = np.asarray(keras.random.uniform((64, 1, 1), seed=generator) >= 0.5)
        np.testing.assert_array_equal(layer(branch, training=True), branch * keep / 0.5)


def test_drop_path_drops_different_samples_on_each_replica():
    """Replicas share the generator's state; each must still draw its own masks, as the
    reference's processes do. Both replicas see the same inputs here, so only the seed differs."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        layer = DropPath(0.5, seed=3)
    branch = tf.ones((64, 2), "float32")
    masks = [np.asarray(mask)[:, 0] != 0 for mask in strategy.experimental_local_results(
        strategy.run(tf.function(lambda: layer(branch, training=True))))]
    assert not np.array_equal(masks[0], masks[1])
    for mask in masks:
        assert 16 < mask.sum() < 48


def test_gelu_and_its_gradient_equal_the_exact_function_eagerly_and_under_xla():
    x = np.concatenate([np.linspace(-9, 9, 721), [-30.0, 30.0]]).astype("float32")
    exact = np.array([v * (1 + math.erf(v / math.sqrt(2))) / 2 for v in x.astype("float64")])
    slope = np.array([(1 + math.erf(v / math.sqrt(2))) / 2 + v * math.exp(-v * v / 2)
                      / math.sqrt(2 * math.pi) for v in x.astype("float64")])

    def value_and_gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = gelu(x)
        return y, tape.gradient(y, x)

    # float32 rounding of 1 + erf(x) leaves up to ~1e-7 |x| where GELU(x) is ~0 (x << 0)
    tolerance = 1e-6 * np.abs(exact) + 1e-6 + 1e-7 * np.abs(x)
    for function in (value_and_gradient, tf.function(value_and_gradient, jit_compile=True)):
        y, dy = function(tf.constant(x))
        assert np.all(np.abs(y - exact) <= tolerance)
        np.testing.assert_allclose(dy, slope, rtol=1e-5, atol=1e-6)
    keras_gelu = keras.activations.gelu(tf.constant(x), approximate=False)  # the erfc form
    assert np.all(np.abs(gelu(tf.constant(x)) - keras_gelu) <= tolerance)
