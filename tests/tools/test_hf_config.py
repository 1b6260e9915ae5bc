"""`hf_config`: the ViTMAE config of our constructor arguments, the inverse of `hf_arguments`."""

import inspect

import pytest

from keras_mae import MaskedAutoencoder, ViTBackbone
from keras_mae.convert.huggingface import hf_arguments, hf_config
from keras_mae.models.presets import PRESETS, list_presets


def flat_arguments(name, **changes):
    """A preset's flat arguments with the settings a ViTMAE config also holds."""
    preset = PRESETS[name]
    return {**preset["backbone"], **preset["decoder"], "mask_ratio": 0.6, "norm_pix_loss": True,
            "layer_norm_epsilon": 1e-12, **changes}


@pytest.mark.parametrize("name", list_presets())
def test_hf_arguments_undo_hf_config(name):
    arguments = flat_arguments(name)
    assert hf_arguments(hf_config(arguments)) == arguments


def test_hf_arguments_undo_hf_config_for_non_square_images():
    arguments = flat_arguments("mae_vit_tiny_patch4_32", image_size=(32, 48), norm_pix_loss=False)
    assert hf_arguments(hf_config(arguments)) == arguments


def test_hf_config_defaults_are_our_constructors_and_drops_what_vitmae_lacks():
    preset = PRESETS["mae_vit_micro_patch4_32"]
    config = hf_config({**preset["backbone"], **preset["decoder"], "drop_path_rate": 0.1,
                        "remat": True, "trainable_pos_embed": True, "seed": 3})
    model_defaults = inspect.signature(MaskedAutoencoder).parameters
    backbone_defaults = inspect.signature(ViTBackbone).parameters
    assert config["mask_ratio"] == model_defaults["mask_ratio"].default
    assert config["norm_pix_loss"] == model_defaults["norm_pix_loss"].default
    assert config["layer_norm_eps"] == backbone_defaults["layer_norm_epsilon"].default
    assert (config["hidden_act"], config["qkv_bias"]) == ("gelu", True)
    assert config["hidden_dropout_prob"] == config["attention_probs_dropout_prob"] == 0.0
    assert not {"drop_path_rate", "remat", "trainable_pos_embed", "seed"} & set(config)


@pytest.mark.parametrize("name", list_presets())
def test_hf_config_builds_a_vitmae_config_that_reads_back(name):
    transformers = pytest.importorskip("transformers")
    arguments = flat_arguments(name)
    config = transformers.ViTMAEConfig(**hf_config(arguments))
    assert config.hidden_size == arguments["hidden_dim"]
    assert hf_arguments(config.to_dict()) == arguments


@pytest.mark.parametrize("name", ["mae_vit_micro_patch4_28_grey", "mae_vit_tiny_patch4_32"])
def test_vitmae_of_hf_config_has_the_presets_trainable_parameters(name):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    config = transformers.ViTMAEConfig(**hf_config(flat_arguments(name)))
    model = transformers.ViTMAEForPreTraining(config)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == PRESETS[name]["num_parameters"]
