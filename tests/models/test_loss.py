import numpy as np

from keras_mae import MaskedAutoencoder
from keras_mae.models.losses import masked_mse, normalize_patches

from conftest import make_mae


def test_loss_ignores_predictions_at_visible_patches():
    rng = np.random.default_rng(0)
    target, pred = rng.random((2, 3, 10, 8)).astype("float32")
    mask = (rng.random((3, 10)) < 0.75).astype("float32")
    changed = pred + 100.0 * (1.0 - mask)[:, :, None]
    assert float(masked_mse(target, pred, mask)) == float(masked_mse(target, changed, mask))
    changed_masked = pred + 1.0 * mask[:, :, None]
    assert float(masked_mse(target, changed_masked, mask)) != float(masked_mse(target, pred, mask))


def test_masked_mse_is_the_mean_over_removed_patches():
    rng = np.random.default_rng(1)
    target, pred = rng.random((2, 2, 6, 5)).astype("float32")
    mask = np.array([[1, 0, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1]], "float32")
    per_patch = ((pred - target) ** 2).mean(-1)
    expected = per_patch[mask == 1].mean()
    np.testing.assert_allclose(float(masked_mse(target, pred, mask)), expected, rtol=1e-6)


def test_norm_pix_uses_unbiased_variance_and_eps_1e6():
    patches = np.random.default_rng(2).random((2, 4, 12)).astype("float32")
    mean = patches.mean(-1, keepdims=True)
    var = patches.var(-1, ddof=1, keepdims=True)
    expected = (patches - mean) / np.sqrt(var + 1e-6)
    np.testing.assert_allclose(np.asarray(normalize_patches(patches)), expected, atol=1e-6)


def test_model_loss_with_norm_pix_equals_numpy(tiny_config):
    model = make_mae(**tiny_config, norm_pix_loss=True, seed=0)
    images = np.random.default_rng(3).normal(size=(2, 16, 24, 3)).astype("float32")
    noise = np.random.default_rng(4).random((2, model.num_patches)).astype("float32")
    outputs = model(images, noise=noise)
    pred, mask = np.asarray(outputs["pred"]), np.asarray(outputs["mask"])
    x = images.reshape(2, 4, 4, 6, 4, 3).transpose(0, 1, 3, 2, 4, 5).reshape(2, 24, 48)
    x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, ddof=1, keepdims=True) + 1e-6)
    expected = (((pred - x) ** 2).mean(-1) * mask).sum() / mask.sum()
    loss = float(model.compute_masked_loss(images, outputs))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
