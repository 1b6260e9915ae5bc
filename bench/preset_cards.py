"""Every preset's card: its architecture, parameters (encoder, decoder), FLOPs per image for
pretraining and fine-tuning, the tokens its encoder sees, and the peak RSS of pretraining steps
at two small batches on this CPU, each in a fresh process; written to
bench/results/preset_cards.json, from which docs/presets.py writes docs/presets.md.

    python bench/preset_cards.py       # every preset, about 15 minutes on 2 cores
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench_common import preset_architecture, preset_names
from flops import encoder_tokens, forward_flops
from peak_memory import peak_rss_mb
from record import write_figures

from keras_mae.training.checks import parameter_counts

# Two batches, so that the cards show what one more image costs; ViT-H's steps at 8 peak near
# 13 GiB, inside this 24 GiB machine.
BATCHES = (4, 8)
MASK_RATIO = 0.75  # MaskedAutoencoder's default, the paper's


def static_card(name):
    """What a preset is and costs, from its architecture alone (no TensorFlow run)."""
    architecture = preset_architecture(name, mask_ratio=MASK_RATIO)
    parameters = parameter_counts(architecture)
    return {
        "image_size": list(architecture["image_size"]),
        "num_channels": architecture["num_channels"],
        "patch_size": architecture["patch_size"],
        "encoder": {"width": architecture["hidden_dim"], "depth": architecture["num_layers"],
                    "heads": architecture["num_heads"], "mlp": architecture["mlp_dim"]},
        "decoder": {"width": architecture["decoder_hidden_dim"],
                    "depth": architecture["decoder_num_layers"],
                    "heads": architecture["decoder_num_heads"],
                    "mlp": architecture["decoder_mlp_dim"]},
        "encoder_parameters": parameters["encoder"],
        "decoder_parameters": parameters["decoder"],
        "mask_ratio": MASK_RATIO,
        # A training step is 3x a forward pass; fine-tuning trains the encoder on every token.
        "pretraining_gflop_per_image": round(3 * forward_flops(architecture, "train") / 1e9, 3),
        "finetuning_gflop_per_image": round(3 * forward_flops(architecture, "infer") / 1e9, 3),
        "encoder_tokens_pretraining": encoder_tokens(architecture, "train"),
        "encoder_tokens_finetuning": encoder_tokens(architecture, "infer"),
    }


def peak_training_rss(name, batch, steps):
    """Peak RSS (MiB) of a fresh process that builds the preset and runs `steps` compiled
    pretraining steps (bench/throughput.py), or why it could not be measured here."""
    command = ["bench/throughput.py", "--preset", name, "--batch", str(batch), "--rounds", "1",
               "--steps", str(steps - 1), "--warmup", "1", "--quiet-wait", "0"]
    try:
        return {"batch": batch, "peak_rss_mib": peak_rss_mb(command)}
    except SystemExit as failure:
        return {"batch": batch, "not_measured": str(failure).strip().splitlines()[-1]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="pretraining steps per process")
    args = parser.parse_args()
    cards = {}
    for name in preset_names():
        memory = [peak_training_rss(name, batch, args.steps)
                  for batch in BATCHES]
        print(name, memory, flush=True)
        cards[name] = {**static_card(name), "memory": memory}
    write_figures("preset_cards", {"steps": args.steps, "cards": cards}, host="amd")


if __name__ == "__main__":
    main()
