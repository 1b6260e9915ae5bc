"""Estimates, not measurements: `mae_vit_base_patch16` pretraining at 224 px on GPUs and TPUs
(memory per device, images/s, hours for ImageNet-1k, the per-device batch and config lines),
from the preset cards (bench/results/preset_cards.json) and published figures (ASSUMPTIONS).
Writes bench/results/gpu_estimates.json and the table of docs/pretraining.md between its
markers.

    python bench/gpu_estimates.py
"""

import json

from bench_common import REPO
from record import RESULTS, write_figures

from devtools.markers import between_markers

PRESET = "mae_vit_base_patch16"
PAGE = REPO / "docs" / "pretraining.md"
MARKER = "gpu-estimates"
IMAGENET_IMAGES = 1_281_167
EPOCHS = (800, 1600)
PAPER_BATCH = 4096  # The effective batch the lr schedule is tuned for: batch_size x accumulation.

ASSUMPTIONS = {
    # The calibration: the reference's own wall-clock, turned into the fraction of a V100's
    # peak its training step reaches (FLOPs from bench/flops.py).
    "reference": {
        "preset": "mae_vit_large_patch16", "epochs": 800, "hours": 42, "devices": 64,
        "device": "V100 32GB", "device_batch": 64,
        "source": "facebookresearch/mae PRETRAIN.md: ViT-L, 800 epochs, ~42 h on 64 V100 GPUs "
                  "(--use_volta32), 64 images per GPU",
    },
    # Not used in the arithmetic: what an optimised pipeline reports, quoted beside the table.
    "comparison": {
        "preset": "mae_vit_base_patch16", "epochs": 800, "hours": 18, "devices": 8,
        "device": "A100",
        "source": "DailyMAE (2024), github.com/erow/FastSSL: MAE-Base/16, 800 epochs of "
                  "ImageNet-1k in 18 hours on 8 A100 GPUs",
    },
    # Peak dense 16-bit matrix throughput (no sparsity) and memory of one device as the
    # strategy sees it (a TPU v3 core is its own replica; a TPU v4 chip is one).
    "devices": {
        "V100 32GB": {"peak_tflops": 125, "memory_gib": 32,
                      "source": "NVIDIA V100 datasheet (SXM2): 125 TFLOPS tensor"},
        "A100 80GB": {"peak_tflops": 312, "memory_gib": 80,
                      "source": "NVIDIA A100 datasheet: 312 TFLOPS BF16/FP16 tensor (624 sparse)"},
        "H100 80GB SXM": {"peak_tflops": 989, "memory_gib": 80,
                          "source": "NVIDIA H100 datasheet (SXM): 1,979 TFLOPS FP16 with "
                                    "sparsity, half without"},
        "TPU v3 core": {"peak_tflops": 61.5, "memory_gib": 16,
                        "source": "cloud.google.com/tpu/docs/v3: 123 TFLOPS bf16 and 32 GiB "
                                  "per chip of 2 cores"},
        "TPU v4 chip": {"peak_tflops": 275, "memory_gib": 32,
                        "source": "cloud.google.com/tpu/docs/v4: 275 TFLOPS bf16, 32 GiB per "
                                  "chip"},
    },
    # Float32 weights, gradients and AdamW's two moments per trainable parameter; mixed
    # precision keeps the weights in float32 as well.
    "state_bytes_per_parameter": 16,
    # Of a device's memory, what the batch may fill (the rest: runtime, XLA's temporaries).
    "usable_memory_percent": 85,
    # Every device of a setup as fast as one (data parallel, no input or all-reduce stalls).
    "scaling": "linear",
}

SETUPS = {
    "1 GPU (V100 32GB)": ("V100 32GB", 1, "mixed_float16", ""),
    "8 GPUs (V100 32GB)": ("V100 32GB", 8, "mixed_float16", "mirrored"),
    "1 GPU (A100 80GB)": ("A100 80GB", 1, "mixed_float16", ""),
    "8 GPUs (A100 80GB)": ("A100 80GB", 8, "mixed_float16", "mirrored"),
    "1 GPU (H100 80GB)": ("H100 80GB SXM", 1, "mixed_float16", ""),
    "8 GPUs (H100 80GB)": ("H100 80GB SXM", 8, "mixed_float16", "mirrored"),
    "TPU v3-8": ("TPU v3 core", 8, "mixed_bfloat16", "tpu"),
    "TPU v4-8": ("TPU v4 chip", 4, "mixed_bfloat16", "tpu"),
}
DEVICE_BATCHES = (32, 64, 128, 256, 512)


def activation_mib_per_image(card):
    """What one more image added to the peak RSS of CPU pretraining steps (float32, XLA), from
    the card's two batches: the activations and XLA's buffers that grow with the batch."""
    (small, large) = card["memory"]
    return (large["peak_rss_mib"] - small["peak_rss_mib"]) / (large["batch"] - small["batch"])


def device_memory_gib(card, device_batch):
    """Training state plus `device_batch` images of activations, in GiB."""
    parameters = card["encoder_parameters"] + card["decoder_parameters"]
    state = parameters * ASSUMPTIONS["state_bytes_per_parameter"] / 2**30
    return state + device_batch * activation_mib_per_image(card) / 1024


def utilisation(cards):
    """The fraction of a V100's peak the reference's ViT-L training reached."""
    reference = ASSUMPTIONS["reference"]
    images_per_sec = (reference["epochs"] * IMAGENET_IMAGES
                      / (reference["hours"] * 3600 * reference["devices"]))
    flops = images_per_sec * cards[reference["preset"]]["pretraining_gflop_per_image"] * 1e9
    peak = ASSUMPTIONS["devices"][reference["device"]]["peak_tflops"] * 1e12
    return images_per_sec, flops / peak


def setup_estimate(card, fraction, device, devices, precision, strategy):
    """One setup: the largest per-device batch (a power of two) that fits, accumulation up to
    the paper's 4096, memory, images/s, hours, and the config overrides."""
    spec = ASSUMPTIONS["devices"][device]
    usable = spec["memory_gib"] * ASSUMPTIONS["usable_memory_percent"] / 100
    device_batch = max(b for b in DEVICE_BATCHES if device_memory_gib(card, b) <= usable)
    batch = device_batch * devices
    images_per_sec = (devices * fraction * spec["peak_tflops"] * 1e12
                      / (card["pretraining_gflop_per_image"] * 1e9))
    overrides = [f"--config.strategy={strategy}"] if strategy else []
    if strategy == "tpu":
        overrides.append("--config.tpu=local")
    overrides += [f"--config.mixed_precision={precision}", f"--config.batch_size={batch}",
                  f"--config.grad_accum_steps={PAPER_BATCH // batch}"]
    return {
        "device": device, "devices": devices, "device_batch": device_batch,
        "memory_gib": round(device_memory_gib(card, device_batch), 1),
        "images_per_sec": round(images_per_sec),
        **{f"hours_{epochs}_epochs": round(epochs * IMAGENET_IMAGES / images_per_sec / 3600)
           for epochs in EPOCHS},
        "config": " ".join(overrides),
    }


def estimates(cards):
    """Every figure of the doc's estimates, rounded as the doc shows them."""
    card = cards[PRESET]
    reference_rate, fraction = utilisation(cards)
    reference = ASSUMPTIONS["reference"]
    return {
        "preset": PRESET,
        "assumptions": ASSUMPTIONS,
        "imagenet_images": IMAGENET_IMAGES,
        "epochs": list(EPOCHS),
        "paper_batch": PAPER_BATCH,
        "reference_images_per_sec_per_device": round(reference_rate, 1),
        "utilisation_percent": round(100 * fraction, 1),
        # The memory model against the reference's own setup, which fits in a V100 32GB.
        "reference_memory_gib": round(device_memory_gib(cards[reference["preset"]],
                                                        reference["device_batch"]), 1),
        "pretraining_gflop_per_image": card["pretraining_gflop_per_image"],
        "parameters": card["encoder_parameters"] + card["decoder_parameters"],
        "state_gib": round(device_memory_gib(card, 0), 1),
        "activation_mib_per_image": round(activation_mib_per_image(card), 1),
        "memory_gib_by_device_batch": {str(b): round(device_memory_gib(card, b), 1)
                                       for b in DEVICE_BATCHES},
        "setups": {name: setup_estimate(card, fraction, *setup)
                   for name, setup in SETUPS.items()},
    }


def table(figures):
    """The doc's table of setups."""
    rows = ["| setup | images per device | memory per device, GiB | images/s "
            "| hours, 800 epochs | hours, 1600 epochs | config overrides |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, setup in figures["setups"].items():
        rows.append(f"| {name} | {setup['device_batch']} | {setup['memory_gib']} "
                    f"| {setup['images_per_sec']:,} | {setup['hours_800_epochs']:,} "
                    f"| {setup['hours_1600_epochs']:,} | `{setup['config']}` |")
    memory = figures["memory_gib_by_device_batch"]
    rows += ["", "Memory per device by images per device (GiB): "
             + ", ".join(f"{batch}: {gib}" for batch, gib in memory.items()) + "."]
    return "\n".join(rows)


def main():
    cards = json.loads((RESULTS / "preset_cards.json").read_text())["figures"]["cards"]
    figures = estimates(cards)
    write_figures("gpu_estimates", figures)
    page = between_markers(PAGE.read_text(), MARKER, table(figures))
    if page is None:
        raise SystemExit(f"{PAGE.name} has no <!-- {MARKER} --> marker for the table.")
    PAGE.write_text(page)
    print(f"wrote {PAGE.relative_to(REPO)}")


if __name__ == "__main__":
    main()
