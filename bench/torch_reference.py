"""The PyTorch reference of the benches: transformers' `ViTMAEForPreTraining` with a preset's
architecture (widths, depths, heads, MLP dims, image and patch size, LayerNorm eps 1e-6,
norm-pix loss, mask ratio), AdamW as the official MAE code, random data, 2 threads.

It runs in its own process. `--serve` (as `torch_contestant` starts it) answers timing rounds
over stdin/stdout, so that `throughput.py` can interleave its rounds with Keras' on a noisy
machine; without `--serve` it times `--steps` steps and prints its peak RSS (for
`peak_memory.py`).

    python bench/torch_reference.py --preset mae_vit_tiny_patch4_32 --batch 128 --steps 5
"""

import argparse
import importlib.util

from bench_common import hf_config, max_rss_mb, median, parse_overrides, preset_architecture
from rounds import ServedContestant, serve, timed

MISSING = (
    "The PyTorch comparison needs torch and transformers, an optional dependency of the benches: "
    "pip install -r requirements-torch.txt transformers==5.23.0 (the pinned torch is a CPU "
    "build; an unpinned one pulls a multi-GB CUDA build)."
)


def require_installed(*modules):
    """Refuse, naming what to install, unless `modules` can be imported (without importing
    them: the caller may be a TensorFlow process that leaves PyTorch to another)."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise SystemExit(f"{MISSING} (missing: {', '.join(missing)})")


def torch_contestant(preset, batch, mode, threads=2, warmup=2, overrides=()):
    """The PyTorch reference (this file) in its own process, serving timed rounds."""
    require_installed("torch", "transformers")
    return ServedContestant(
        "torch_reference.py",
        ["--preset", preset, "--batch", str(batch), "--mode", mode, "--threads", str(threads),
         "--warmup", str(warmup), *(f"--set={pair}" for pair in overrides)],
    )


def import_torch():
    """(torch, transformers) or a clear SystemExit naming what to install."""
    try:
        import torch
        import transformers
    except ImportError as error:
        raise SystemExit(f"{MISSING} ({error})") from error
    return torch, transformers


def reference_config(transformers, architecture, mask_ratio):
    """The `ViTMAEConfig` of a keras_mae architecture (norm-pix loss, eps 1e-6 unless the
    architecture sets it, no dropout)."""
    arguments = {"layer_norm_epsilon": 1e-6, **architecture}
    return transformers.ViTMAEConfig(
        **hf_config({**arguments, "mask_ratio": mask_ratio, "norm_pix_loss": True})
    )


def param_groups(model, weight_decay=0.05):
    """The official code's groups: no weight decay on biases and norms (every <= 1-d weight)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]


def make_step(preset, batch, mode, threads=2, overrides=None, mask_ratio=0.75, seed=0):
    """A no-argument function running one training step (or one encoder pass) -> loss or None."""
    torch, transformers = import_torch()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    architecture = preset_architecture(preset, **(overrides or {}))
    height, width = architecture["image_size"]
    images = torch.randn(batch, architecture["num_channels"], height, width)
    if mode == "infer":
        config = reference_config(transformers, architecture, mask_ratio=0.0)
        encoder = transformers.ViTMAEModel(config).eval()

        def infer_step():
            with torch.inference_mode():
                encoder(pixel_values=images)

        return infer_step
    model = transformers.ViTMAEForPreTraining(reference_config(transformers, architecture, mask_ratio))
    model.train()
    optimizer = torch.optim.AdamW(param_groups(model), lr=1.5e-4 * batch / 256, betas=(0.9, 0.95))

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        loss = model(pixel_values=images).loss
        loss.backward()
        optimizer.step()
        return loss.item()

    return train_step


class TorchReference:
    """Timed rounds of the reference's step (see `make_step`)."""

    def __init__(self, preset, batch, mode, threads=2, overrides=None):
        self.step = make_step(preset, batch, mode, threads, overrides)

    def round(self, steps):
        """(wall, CPU) milliseconds of each of `steps` steps."""
        return timed(self.step, steps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="mae_vit_tiny_patch4_32")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--mode", choices=("train", "infer"), default="train")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override an architecture field of the preset")
    parser.add_argument("--serve", action="store_true", help="answer timing rounds on stdin")
    args = parser.parse_args()
    reference = TorchReference(args.preset, args.batch, args.mode, args.threads,
                               parse_overrides(args.set))
    reference.round(args.warmup)
    if args.serve:
        serve(reference, lambda: {"max_rss_mb": max_rss_mb()})
        return
    times, _ = reference.round(args.steps)
    print(f"max_rss_mb={max_rss_mb():.0f}")
    print(f"images_per_sec={args.batch * 1000 / median(times):.2f} step_ms_median={median(times):.1f}")


if __name__ == "__main__":
    main()
