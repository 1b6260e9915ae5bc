"""`MaskedAutoencoder`: shapes, masking, the loss, presets, initialisation, saving."""

import inspect

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_mae
from keras_mae import MaskedAutoencoder, ViTBackbone
from keras_mae.convert.weights import model_weights
from keras_mae.models.presets import BACKBONE_ARGUMENTS, PRESETS
from keras_mae.training.checks import parameter_count
from keras_mae.optimizers import pretraining_adamw as adamw

from conftest import make_mae, random_batch


def count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def test_vit_base_has_the_references_trainable_parameter_count():
    model = MaskedAutoencoder.from_preset("mae_vit_base_patch16")
    assert count(model.trainable_weights) == 111_655_680
    assert count(model.non_trainable_weights) == 197 * 768 + 197 * 512  # the sin-cos tables


def test_presets_state_their_models_trainable_parameter_counts():
    for name, preset in PRESETS.items():
        arguments = {**preset["backbone"], **preset["decoder"]}
        tokens = 1 + (arguments["image_size"] // arguments["patch_size"]) ** 2
        fixed_tables = tokens * (arguments["hidden_dim"] + arguments["decoder_hidden_dim"])
        assert preset["num_parameters"] == parameter_count(arguments) - fixed_tables, name
    model = MaskedAutoencoder.from_preset("mae_vit_micro_patch4_32")
    assert count(model.trainable_weights) == PRESETS["mae_vit_micro_patch4_32"]["num_parameters"]


def test_backbone_arguments_are_the_backbones_constructor_arguments():
    signature = inspect.signature(ViTBackbone).parameters
    assert BACKBONE_ARGUMENTS == tuple(name for name in signature if name != "kwargs")


def test_presets_are_listed_and_unknown_names_are_refused_with_a_hint():
    assert {"mae_vit_base_patch16", "mae_vit_large_patch16", "mae_vit_huge_patch14",
            "mae_vit_tiny_patch4_32"} <= set(keras_mae.list_presets())
    with pytest.raises(ValueError, match="Did you mean 'mae_vit_base_patch16'"):
        MaskedAutoencoder.from_preset("mae_vit_base_patch61")


def test_outputs_have_the_documented_shapes(tiny_config):
    model = make_mae(**tiny_config)
    images, _ = random_batch(model, batch=3)
    outputs = model(images)
    assert model.num_patches == 24 and model.num_keep == 6
    assert outputs["pred"].shape == (3, 24, 4 * 4 * 3)
    assert outputs["mask"].shape == (3, 24)
    assert outputs["ids_restore"].shape == (3, 24)
    assert model.encode(images).shape == (3, 25, 32)


def test_encoder_sees_only_the_visible_patches(tiny_config):
    model = make_mae(**tiny_config, seed=1)
    images, noise = random_batch(model)
    _, mask, _ = keras_mae.layers.masking.random_masking(noise, model.num_keep)
    keep = np.argsort(noise, axis=1)[:, : model.num_keep]
    tokens = model.backbone(images, keep_indices=keep)
    assert tokens.shape == (2, 1 + model.num_keep, 32)
    # Scribbling over every removed patch leaves the encoder's output unchanged.
    pixel_mask = np.asarray(model.unpatchify(np.repeat(np.asarray(mask)[:, :, None], 48, -1)))
    scribbled = images + 50.0 * pixel_mask
    np.testing.assert_array_equal(model.backbone(scribbled, keep_indices=keep), tokens)
    assert not np.allclose(model.backbone(images + 50.0 * (1 - pixel_mask), keep_indices=keep),
                           tokens)


def test_same_noise_gives_the_same_outputs(tiny_config):
    model = make_mae(**tiny_config)
    images, noise = random_batch(model)
    first, second = model(images, noise=noise), model(images, noise=noise)
    np.testing.assert_array_equal(first["pred"], second["pred"])
    assert not np.array_equal(model(images)["mask"], model(images)["mask"])


def test_every_trainable_weight_gets_a_finite_gradient(tiny_config):
    model = make_mae(**tiny_config, norm_pix_loss=True)
    images, noise = random_batch(model)
    with tf.GradientTape() as tape:
        loss = model.compute_masked_loss(images, model(images, noise=noise, training=True))
    gradients = tape.gradient(loss, model.trainable_weights)
    for weight, gradient in zip(model.trainable_weights, gradients):
        assert gradient is not None, weight.path
        assert np.all(np.isfinite(gradient)), weight.path
        assert np.any(np.asarray(gradient) != 0), weight.path


def test_initialisation_follows_the_reference(tiny_config):
    """The reference's `initialize_weights`: xavier-uniform nn.Linear weights with zero biases,
    LayerNorm 1 and 0, N(0, 0.02) cls and mask tokens, xavier on the patch embedding's
    [D, p*p*C] view."""
    model = MaskedAutoencoder.from_preset("mae_vit_tiny_patch4_32", seed=3)
    weights = {path: np.asarray(w) for path, w in model_weights(model).items()}
    block_linears = ("attn/qkv", "attn/proj", "mlp/fc1", "mlp/fc2")
    linears = {f"backbone/block_{i}/{name}" for i in range(12) for name in block_linears}
    linears |= {f"decoder/block_{i}/{name}" for i in range(4) for name in block_linears}
    linears |= {"decoder/embed", "decoder/pred"}
    kernels = {path.rsplit("/", 1)[0] for path, w in weights.items()
               if path.endswith("/kernel") and w.ndim == 2}
    assert kernels == linears  # every nn.Linear of the reference, and nothing else
    for layer in sorted(linears):
        kernel, bias = weights[f"{layer}/kernel"], weights[f"{layer}/bias"]
        fan_in, fan_out = kernel.shape
        limit = np.sqrt(6 / (fan_in + fan_out))
        # Keras draws in float32 from [-limit, limit] rounded to float32, which may lie just
        # above the float64 limit; comparing in float32 is exact.
        assert np.abs(kernel).max() <= np.float32(limit), layer
        # Uniform(-a, a) has std a / sqrt(3). The smallest kernel here has 128 x 48 = 6144
        # values: the sample std's relative standard error is sqrt(0.8 / (4 n)) < 0.6 %, so
        # 5 % is > 8 standard errors (a normal or He init would be off by 20 % or more).
        np.testing.assert_allclose(kernel.std(), limit / np.sqrt(3), rtol=0.05, err_msg=layer)
        assert abs(kernel.mean()) < 0.05 * limit, layer
        np.testing.assert_array_equal(bias, 0, err_msg=layer)
    norms = {path for path in weights if path.endswith(("/gamma", "/beta"))}
    assert len(norms) == 2 * (2 * 12 + 1 + 2 * 4 + 1)  # norm1, norm2 per block and a final norm
    for path in norms:
        np.testing.assert_array_equal(weights[path], 1 if path.endswith("gamma") else 0, path)
    # N(0, 0.02) over D = 192 / 128 values: the sample std's relative error is ~5-6 %.
    np.testing.assert_allclose(weights["backbone/cls_token"].std(), 0.02, rtol=0.25)
    np.testing.assert_allclose(weights["decoder/mask_token"].std(), 0.02, rtol=0.25)
    patch_kernel = weights["backbone/patch_embed/projection/kernel"]
    limit = np.sqrt(6 / (4 * 4 * 3 + 192))  # xavier on the [D, p*p*C] view
    assert 0.9 * limit < np.abs(patch_kernel).max() <= np.float32(limit)
    np.testing.assert_allclose(patch_kernel.std(), limit / np.sqrt(3), rtol=0.05)


def test_keras_file_round_trip_gives_identical_outputs(tiny_config, tmp_path):
    model = make_mae(**tiny_config, norm_pix_loss=True, mask_ratio=0.5)
    images, noise = random_batch(model)
    path = tmp_path / "mae.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, MaskedAutoencoder)
    assert loaded.get_config() == model.get_config()
    for key in ("pred", "mask", "ids_restore"):
        np.testing.assert_array_equal(loaded(images, noise=noise)[key],
                                      model(images, noise=noise)[key])
    np.testing.assert_array_equal(loaded.encode(images), model.encode(images))


def reference_pretraining_decays(name, ndim):
    """Whether the reference's pretraining decays a weight: timm's `add_weight_decay(model, wd)`
    (no skip list) spares 1-D parameters and biases and decays everything else."""
    return not (ndim == 1 or name.endswith("/bias"))


def test_weight_decay_spares_exactly_norms_and_biases_and_decays_the_tokens(tiny_config):
    model = make_mae(**tiny_config)
    named = model_weights(model)
    trainable = {name: w for name, w in named.items() if w.trainable}
    # The fixed sin-cos tables are not parameters in the reference: nothing trains them.
    assert {name for name, w in named.items() if not w.trainable} == {
        "backbone/pos_embed", "decoder/pos_embed"}
    assert {w.path for w in trainable.values()} == {w.path for w in model.trainable_weights}
    # Biases and LayerNorm offsets start at 0, where decay could not move them: start every
    # weight at a random value of magnitude 0.5-1.5.
    rng = np.random.default_rng(0)
    for weight in trainable.values():
        value = rng.uniform(0.5, 1.5, weight.shape) * rng.choice([-1.0, 1.0], weight.shape)
        weight.assign(value.astype("float32"))
    before = {name: np.asarray(w) for name, w in trainable.items()}
    optimizer = adamw(model, learning_rate=0.1, weight_decay=0.5)
    # With zero gradients, Adam's step is zero, so only decoupled weight decay moves weights.
    optimizer.apply([tf.zeros_like(w) for w in trainable.values()], list(trainable.values()))
    decayed = set()
    for name, weight in trainable.items():
        decays = reference_pretraining_decays(name, len(weight.shape))
        expected = before[name] * (1 - 0.1 * 0.5) if decays else before[name]
        np.testing.assert_allclose(np.asarray(weight), expected, rtol=1e-6, err_msg=name)
        decayed |= {name} if decays else set()
    assert {"backbone/cls_token", "decoder/mask_token"} <= decayed  # [1, 1, D]: decayed
    assert "backbone/norm/beta" not in decayed and "decoder/pred/bias" not in decayed


@pytest.mark.parametrize("batch_form", ["images", "pair", "dict"])
def test_fit_accepts_images_pairs_and_dicts(tiny_config, batch_form):
    model = make_mae(**tiny_config, seed=0)
    images, noise = random_batch(model, batch=8)
    data = {"images": images, "pair": (images, np.zeros(8)),
            "dict": {"images": images, "noise": noise}}[batch_form]
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(4)
    model.compile(optimizer=adamw(model, 1e-3), jit_compile=False)  # XLA: test_distribute.py
    history = model.fit(dataset, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    evaluated = model.evaluate(dataset, verbose=0, return_dict=True)
    assert np.isfinite(evaluated["loss"])


def test_evaluate_with_fixed_noise_reports_the_model_loss(tiny_config):
    model = make_mae(**tiny_config)
    images, noise = random_batch(model, batch=4)
    model.compile(optimizer=adamw(model, 1e-3))
    reported = model.evaluate({"images": images, "noise": noise}, batch_size=4, verbose=0)
    direct = model.compute_masked_loss(images, model(images, noise=noise))
    np.testing.assert_allclose(reported, float(direct), rtol=1e-6)


def test_training_masks_depend_only_on_seed_and_step(tiny_config):
    first, second = (make_mae(**tiny_config, seed=7) for _ in range(2))
    noise = lambda model, step: np.asarray(model.sample_noise(3, step=tf.constant(step)))
    np.testing.assert_array_equal(noise(first, 5), noise(second, 5))  # e.g. after a resume
    assert not np.array_equal(noise(first, 5), noise(first, 6))
    assert not np.array_equal(noise(first, 5), noise(make_mae(**tiny_config, seed=8), 5))
