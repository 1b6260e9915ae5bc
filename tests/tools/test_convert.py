"""Converted checkpoints compute what the PyTorch reference computes (transformers' ViTMAE)."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import keras
from keras_mae import MaskedAutoencoder, ViTClassifier, load
from keras_mae.convert import load_hf_checkpoint, load_official_checkpoint
from keras_mae.layers.position_embedding import sincos_2d
from keras_mae.models.presets import PRESETS


import torch_reference as ref

from conftest import REPO


def flat_preset(name):
    return {**PRESETS[name]["backbone"], **PRESETS[name]["decoder"]}


def inputs_for(model, batch, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(batch, *model.image_size, model.num_channels)).astype(np.float32)
    return images, rng.random((batch, model.num_patches)).astype(np.float32)


def assert_matches_reference(model, reference, batch=3):
    images, noise = inputs_for(model, batch)
    expected = ref.reference_outputs(reference, images, noise)
    outputs = model(images, noise=noise)
    np.testing.assert_array_equal(outputs["mask"], expected["mask"])
    np.testing.assert_array_equal(outputs["ids_restore"], expected["ids_restore"])
    assert np.abs(np.asarray(outputs["pred"]) - expected["pred"]).max() <= 1e-4
    loss = float(model.compute_masked_loss(images, outputs))
    assert abs(loss - expected["loss"]) <= 1e-5, (loss, expected["loss"])


@pytest.fixture(scope="module")
def tiny_reference():
    """The reference with preset mae_vit_tiny_patch4_32's architecture and random weights."""
    return ref.random_reference(ref.hf_config_for(flat_preset("mae_vit_tiny_patch4_32")))


def test_official_checkpoint_matches_the_reference_and_infers_its_preset(tiny_reference, tmp_path):
    ref.save_official(tiny_reference, tmp_path / "mae_visualize.pth")
    model = load_official_checkpoint(tmp_path / "mae_visualize.pth", norm_pix_loss=True)
    assert isinstance(model, MaskedAutoencoder)
    assert (model.backbone.num_heads, model.decoder_num_heads) == (3, 4)  # from the preset, not shapes
    assert_matches_reference(model, tiny_reference)
    # The reference's fixed tables are this library's sin-cos tables.
    np.testing.assert_allclose(model.backbone.pos_embed.numpy()[0], sincos_2d(192, 8, True), atol=1e-6)
    np.testing.assert_allclose(model.decoder.pos_embed.numpy()[0], sincos_2d(128, 8, True), atol=1e-6)


@pytest.mark.parametrize("form", ["save_pretrained", "hub_legacy_names"])
def test_hf_checkpoint_matches_the_reference(tiny_reference, tmp_path, form):
    folder = tmp_path / form
    if form == "save_pretrained":
        tiny_reference.save_pretrained(folder)  # model.safetensors, read without torch
    else:
        ref.save_hf_legacy(tiny_reference, folder)  # pytorch_model.bin
    model = load_hf_checkpoint(folder)
    assert model.norm_pix_loss and model.backbone.layer_norm_epsilon == 1e-6
    assert_matches_reference(model, tiny_reference)


def test_hf_config_sets_the_layer_norm_epsilon(tmp_path):
    reference = ref.random_reference(ref.hf_config_for(
        flat_preset("mae_vit_micro_patch4_32"), layer_norm_eps=1e-12, norm_pix_loss=False))
    reference.save_pretrained(tmp_path)
    model = load(tmp_path)
    assert model.backbone.layer_norm_epsilon == 1e-12 and not model.norm_pix_loss
    assert_matches_reference(model, reference, batch=2)
    overridden = load_hf_checkpoint(tmp_path, norm_pix_loss=True, mask_ratio=0.5)
    assert overridden.norm_pix_loss and overridden.mask_ratio == 0.5


def test_pretrained_encoder_checkpoint_leaves_a_fresh_decoder(tiny_reference, tmp_path):
    ref.save_official(tiny_reference, tmp_path / "mae_pretrain.pth", with_decoder=False)
    model = load_official_checkpoint(tmp_path / "mae_pretrain.pth")
    images, noise = inputs_for(model, 2)
    expected = ref.reference_outputs(tiny_reference, images, noise)
    keep = np.argsort(noise, axis=1)[:, : model.num_keep]
    latent = np.asarray(model.backbone(images, keep_indices=keep))
    assert np.abs(latent - expected["latent"]).max() <= 1e-4
    reference_pred = tiny_reference.state_dict()["decoder.decoder_pred.weight"].numpy().T
    assert not np.allclose(model.decoder.pred.kernel.numpy(), reference_pred)


def test_finetuned_checkpoint_gives_the_references_classifier(tiny_reference, tmp_path):
    generator = torch.Generator().manual_seed(1)
    dim = tiny_reference.config.hidden_size
    fc_norm = (1 + 0.2 * torch.randn(dim, generator=generator), 0.1 * torch.randn(dim, generator=generator))
    head = (0.05 * torch.randn(10, dim, generator=generator), 0.1 * torch.randn(10, generator=generator))
    state = ref.official_state_dict(tiny_reference, with_decoder=False)
    del state["norm.weight"], state["norm.bias"]  # global pooling replaces the final norm
    state.update({"fc_norm.weight": fc_norm[0], "fc_norm.bias": fc_norm[1],
                  "head.weight": head[0], "head.bias": head[1]})
    torch.save({"model": state}, tmp_path / "mae_finetuned.pth")

    model = load_official_checkpoint(tmp_path / "mae_finetuned.pth")
    assert isinstance(model, ViTClassifier) and model.pooling == "avg" and model.num_classes == 10
    images, _ = inputs_for(model, 3)
    expected = ref.reference_classifier_logits(tiny_reference, images, fc_norm, head)
    assert np.abs(np.asarray(model(images)) - expected).max() <= 1e-4


def test_contradicting_sizes_name_the_weight_and_both_shapes(tiny_reference, tmp_path):
    ref.save_official(tiny_reference, tmp_path / "mae.pth")
    with pytest.raises(ValueError, match=r"'backbone/block_0/mlp/fc1/kernel' has shape \(192, 768\) "
                                         r"in the checkpoint but \(192, 512\) in the model"):
        load_official_checkpoint(tmp_path / "mae.pth", mlp_dim=512)


def test_unknown_head_count_asks_for_a_preset_or_the_heads(tiny_reference, tmp_path):
    state = ref.official_state_dict(tiny_reference)
    state = {k: v for k, v in state.items() if not k.startswith("blocks.11.")}  # 11 blocks: no preset
    torch.save({"model": state}, tmp_path / "mae.pth")
    with pytest.raises(ValueError, match="Pass num_heads="):
        load_official_checkpoint(tmp_path / "mae.pth")
    model = load_official_checkpoint(tmp_path / "mae.pth", num_heads=3, decoder_num_heads=4)
    assert model.backbone.num_layers == 11


def test_reading_pth_without_torch_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="requirements-torch.txt"):
        load_official_checkpoint(tmp_path / "mae.pth")


def test_convert_cli_writes_a_keras_file_with_the_same_outputs(tiny_reference, tmp_path):
    ref.save_official(tiny_reference, tmp_path / "mae.pth")
    result = subprocess.run(
        [sys.executable, "-m", "keras_mae.convert", "--checkpoint", str(tmp_path / "mae.pth"),
         "--output", str(tmp_path / "mae.keras"), "--norm_pix_loss"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MaskedAutoencoder" in result.stdout
    model = keras.models.load_model(tmp_path / "mae.keras")
    assert model.norm_pix_loss
    assert_matches_reference(model, tiny_reference, batch=2)


@pytest.mark.slow
@pytest.mark.parametrize("loader", ["official", "hf"])
def test_vit_base_checkpoints_match_the_reference(tmp_path, loader):
    reference = ref.random_reference(ref.hf_config_for(flat_preset("mae_vit_base_patch16")))
    if loader == "official":
        ref.save_official(reference, tmp_path / "mae_vit_base.pth")
        model = load_official_checkpoint(tmp_path / "mae_vit_base.pth", norm_pix_loss=True)
    else:
        reference.save_pretrained(tmp_path / "hf")
        model = load_hf_checkpoint(tmp_path / "hf")
    assert model.count_params() == sum(p.numel() for p in reference.parameters())
    assert_matches_reference(model, reference, batch=2)
