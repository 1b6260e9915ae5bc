"""Writes the table of docs/presets.md, one card per preset, from bench/results/preset_cards.json
(`python bench/preset_cards.py`) and the data each preset suits (below), so that the page
cannot drift from the measurements; a test fails when the two differ.

    python docs/presets.py      # rewrite the table after re-running the bench
"""

import json
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devtools.markers import between_markers  # noqa: E402

PAGE = REPO / "docs" / "presets.md"
CARDS = REPO / "bench" / "results" / "preset_cards.json"
MARKER = "preset-cards"

# What each preset is made for: the images its patch grid and width were chosen for. The
# table's rows follow this order.
SUITS = {
    "mae_vit_base_patch16": "224-px ImageNet-like photos, ImageNet-1k scale (1.3M images)",
    "mae_vit_large_patch16": "224-px ImageNet-like photos, ImageNet-1k scale; the paper's default",
    "mae_vit_huge_patch14": "224-px ImageNet-like photos, ImageNet-1k scale; the paper's largest",
    "mae_vit_tiny_patch4_32": "32-px CIFAR-like RGB (CIFAR-10/100, SVHN)",
    "mae_vit_micro_patch4_32": "32-px CIFAR-like RGB on a CPU (the CIFAR-10 proof's model)",
    "mae_vit_micro_patch4_28_grey": "28-px greyscale (Fashion-MNIST, MNIST; the bundled sample)",
}


def preset_names():
    """Every preset of keras_mae/models/presets.py, read without importing TensorFlow."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from bench_common import preset_names as names
    finally:
        sys.path.remove(str(REPO / "bench"))
    return names()


def table(record):
    """The cards of `record` (preset_cards.json) as a markdown table with its provenance."""
    cards = record["figures"]["cards"]
    rows = [
        "| preset | image | patch | encoder (width, depth, heads) | decoder (width, depth, heads) "
        "| parameters, encoder + decoder | GFLOP per image: pretraining / fine-tuning "
        "| encoder tokens: pretraining / fine-tuning | peak training RSS on CPU, MiB (batch) "
        "| the data it suits |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in SUITS:
        card = cards[name]
        height, width = card["image_size"]
        encoder, decoder = card["encoder"], card["decoder"]
        rows.append(
            f"| `{name}` | {height}x{width}x{card['num_channels']} | {card['patch_size']} "
            f"| {encoder['width']}, {encoder['depth']}, {encoder['heads']} "
            f"| {decoder['width']}, {decoder['depth']}, {decoder['heads']} "
            f"| {card['encoder_parameters']:,} + {card['decoder_parameters']:,} "
            f"| {card['pretraining_gflop_per_image']} / {card['finetuning_gflop_per_image']} "
            f"| {card['encoder_tokens_pretraining']} / {card['encoder_tokens_finetuning']} "
            f"| {_memory(card['memory'])} | {SUITS[name]} |")
    rows += ["", f"Measured by `{record['command']}` at commit {record['commit'][:10]} on "
             f"{record['cpu']}, {record['date']}; {record['figures']['steps']} pretraining steps "
             "per process."]
    return "\n".join(rows)


def _memory(measurements):
    return "; ".join(
        f"{m['peak_rss_mib']:,} ({m['batch']})" if "peak_rss_mib" in m
        else f"not measured at batch {m['batch']}: {m['not_measured']}"
        for m in measurements)


def page():
    """docs/presets.md with its table rewritten from the cards."""
    record = json.loads(CARDS.read_text())
    for place, known, remedy in ((CARDS.name, record["figures"]["cards"],
                                  "Run `python bench/preset_cards.py`."),
                                 ("docs/presets.py's SUITS", SUITS, "Add the data it suits.")):
        missing = sorted(set(preset_names()) - set(known))
        if missing:
            raise ValueError(f"Presets without a card in {place}: {', '.join(missing)}. {remedy}")
    return between_markers(PAGE.read_text(), MARKER, table(record))


if __name__ == "__main__":
    PAGE.write_text(page())
    print(f"wrote {PAGE.relative_to(REPO)}")
