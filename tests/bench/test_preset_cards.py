"""bench/preset_cards.py: the recorded cards still describe the presets, and the parameter
counts it takes from `checks.parameter_counts` are those of built models."""

import json

import numpy as np

from keras_mae import MaskedAutoencoder
from keras_mae.models.presets import PRESETS
from keras_mae.training.checks import parameter_counts

from conftest import REPO, bench_module


def _count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def test_recorded_cards_hold_what_the_presets_are_now():
    static_card = bench_module("preset_cards").static_card
    record = json.loads((REPO / "bench" / "results" / "preset_cards.json").read_text())
    for name, card in record["figures"]["cards"].items():
        assert {key: card[key] for key in static_card(name)} == static_card(name), (
            f"{name}'s card is stale: run `python bench/preset_cards.py`")


def test_encoder_and_decoder_parameters_are_those_of_the_built_model():
    name = "mae_vit_micro_patch4_28_grey"
    model = MaskedAutoencoder.from_preset(name)
    backbone = model.backbone.trainable_weights
    rest = [w for w in model.trainable_weights if all(w is not b for b in backbone)]
    counts = parameter_counts({**PRESETS[name]["backbone"], **PRESETS[name]["decoder"]})
    assert counts["encoder"] == _count(backbone) > 0
    assert counts["decoder"] == _count(rest) > 0
    assert counts["position_tables"] == _count(model.non_trainable_weights)
