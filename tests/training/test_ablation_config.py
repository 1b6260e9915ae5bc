"""The ablation options as run config fields: each reaches the model `train.py` builds."""

import pytest

from keras_mae.errors import InputError
from keras_mae.training import checks
from keras_mae.training.config import default_config
from keras_mae.training.pretrain import build_model


def sample_config(**model_fields):
    config = default_config()
    config.model.preset = "mae_vit_micro_patch4_28_grey"
    for field, value in model_fields.items():
        config.model[field] = value
    return config


def test_the_defaults_build_the_presets_mae():
    model = build_model(sample_config())
    assert len(model.decoder.blocks) == 2  # the micro preset's decoder
    assert not model.mask_token_in_encoder and model.loss_on == "masked"


@pytest.mark.parametrize("fields, check", [
    (dict(decoder_num_layers=0), lambda m: not m.decoder.blocks),
    (dict(decoder_num_layers=4), lambda m: len(m.decoder.blocks) == 4),
    (dict(mask_token_in_encoder=True), lambda m: m.mask_token_in_encoder),
    (dict(loss_on="all"), lambda m: m.loss_on == "all"),
    (dict(mask_ratio=0.15, norm_pix_loss=False), lambda m: m.num_keep == 41
     and not m.norm_pix_loss),
])
def test_each_ablation_field_reaches_the_model(fields, check):
    config = sample_config(**fields)
    checks.check_config(config)
    assert check(build_model(config))


def test_an_unknown_loss_on_is_refused_before_the_run():
    with pytest.raises(InputError, match="model.loss_on"):
        checks.check_config(sample_config(loss_on="visible"))
