"""docs/presets.md's table is what `python docs/presets.py` makes of
bench/results/preset_cards.json, and every preset of presets.py has a card there."""

import json

import pytest

from conftest import REPO, page_generator


def test_presets_page_is_up_to_date():
    assert (REPO / "docs" / "presets.md").read_text() == page_generator("presets").page(), (
        "docs/presets.md is stale: run `python docs/presets.py`")


def test_every_preset_has_a_card_and_the_data_it_suits():
    generator = page_generator("presets")
    cards = json.loads(generator.CARDS.read_text())["figures"]["cards"]
    names = set(generator.preset_names())
    assert {"mae_vit_base_patch16", "mae_vit_huge_patch14"} <= names
    assert set(cards) == names == set(generator.SUITS)
    page = generator.PAGE.read_text()
    for name in names:
        assert f"| `{name}` |" in page, name


def test_a_preset_without_a_card_is_refused_by_name(tmp_path, monkeypatch):
    generator = page_generator("presets")
    record = json.loads(generator.CARDS.read_text())
    del record["figures"]["cards"]["mae_vit_large_patch16"]
    cards = tmp_path / "preset_cards.json"
    cards.write_text(json.dumps(record))
    monkeypatch.setattr(generator, "CARDS", cards)
    with pytest.raises(ValueError, match="without a card in preset_cards.json: "
                                         "mae_vit_large_patch16"):
        generator.page()
