"""This machine's float32 matmul rate: the yardstick for a model's GFLOP/s. With
`--compare-torch`, also the rate PyTorch's kernels reach on the same products, which bounds
how far a step made mostly of matmuls can lead the PyTorch reference.

Times a square product and the presets' transformer products ([tokens, width] x [width, n])
under TensorFlow with XLA (as the library's steps run them) and without (oneDNN's kernels),
and PyTorch in a process of its own; the sides take turns for `--rounds` rounds and each
product keeps its best time (other work on the machine only ever adds time).

    python bench/matmul_peak.py [--compare-torch]
"""

import argparse
import json
import subprocess
import sys
import time

from bench_common import median
from record import add_output_flag, write_if_asked

from devtools.machine import cpu_name

SHAPES = (
    (2048, 2048, 2048),
    (8 * 197, 768, 3072),  # ViT-B/16 MLP, batch 8, whole images (encoder inference)
    (8 * 50, 768, 3072),  # ViT-B/16 MLP, batch 8, visible patches (pretraining's encoder)
    (128 * 65, 192, 768),  # tiny preset MLP, batch 128, whole images
    (128 * 17, 192, 768),  # tiny preset MLP, batch 128, visible patches
    (128 * 65, 128, 512),  # tiny preset decoder MLP, batch 128
)
FLOP_PER_TIMED_CALL = 1e9


def best_seconds(call, flop, repeats):
    """The fastest of `repeats` timings of `call` (several calls per timing for small products)."""
    inner = max(1, int(FLOP_PER_TIMED_CALL / flop))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            call()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def tensorflow_rate(m, k, n, jit_compile, repeats=10):
    """Best GFLOP/s of an [m, k] x [k, n] float32 matmul under TensorFlow."""
    import tensorflow as tf

    a, b = tf.random.normal((m, k)), tf.random.normal((k, n))
    matmul = tf.function(tf.linalg.matmul, jit_compile=jit_compile)
    matmul(a, b).numpy()
    return 2 * m * k * n / best_seconds(lambda: matmul(a, b).numpy(), 2 * m * k * n, repeats) / 1e9


def torch_rate(m, k, n, repeats=10):
    """Best GFLOP/s of an [m, k] x [k, n] float32 matmul under PyTorch."""
    import torch

    a, b = torch.randn(m, k), torch.randn(k, n)
    torch.mm(a, b)
    return 2 * m * k * n / best_seconds(lambda: torch.mm(a, b), 2 * m * k * n, repeats) / 1e9


def tensorflow_rates(shapes, repeats):
    """{"xla": [...], "onednn": [...]}: GFLOP/s of each shape, with XLA and without."""
    return {side: [tensorflow_rate(*shape, jit_compile=side == "xla", repeats=repeats)
                   for shape in shapes] for side in ("xla", "onednn")}


def torch_rates_in_subprocess(shapes, repeats, threads):
    """PyTorch's GFLOP/s of each shape, measured in a process of its own."""
    from torch_reference import require_installed

    require_installed("torch")
    command = [sys.executable, __file__, "--torch-side", "--threads", str(threads),
               "--repeats", str(repeats), "--shapes", json.dumps(shapes)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"the PyTorch side failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(shapes, rounds=1, repeats=10, compare_torch=False, threads=2):
    """Best GFLOP/s per side and shape over `rounds` turns: {"xla": [...], "onednn": [...]
    [, "torch": [...]]}."""
    best = {}
    for _ in range(rounds):
        rates = tensorflow_rates(shapes, repeats)
        if compare_torch:
            rates["torch"] = torch_rates_in_subprocess(shapes, repeats, threads)
        for side, values in rates.items():
            best[side] = [max(pair) for pair in zip(best.get(side, values), values)]
    return best


def tensorflow_peak(rates):
    """The best TensorFlow GFLOP/s of `measure`'s rates, with XLA or without."""
    return max(rates["xla"] + rates["onednn"])


def measure_peak():
    """The best TensorFlow matmul GFLOP/s over the presets' shapes."""
    return tensorflow_peak(measure(SHAPES))


def print_table(shapes, rates):
    sides = list(rates)
    print("GFLOP/s".ljust(30) + "".join(f"{side:>9}" for side in sides)
          + ("  xla/torch" if "torch" in rates else ""))
    for i, (m, k, n) in enumerate(shapes):
        row = "".join(f"{rates[side][i]:9.1f}" for side in sides)
        if "torch" in rates:
            row += f"  {rates['xla'][i] / rates['torch'][i]:9.3f}"
        print(f"[{m}x{k}]x[{k}x{n}]".ljust(30) + row)


def torch_side(args):
    import torch

    torch.set_num_threads(args.threads)
    shapes = [tuple(shape) for shape in json.loads(args.shapes)]
    print(json.dumps([torch_rate(*shape, repeats=args.repeats) for shape in shapes]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare-torch", action="store_true",
                        help="also time PyTorch's matmul on the same shapes (needs torch)")
    parser.add_argument("--rounds", type=int, default=2, help="turns of each side")
    parser.add_argument("--repeats", type=int, default=10, help="timings per shape and turn")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch's threads")
    parser.add_argument("--shapes", default=json.dumps(SHAPES),
                        help='products as JSON [[m, k, n], ...]')
    parser.add_argument("--torch-side", action="store_true", help=argparse.SUPPRESS)
    add_output_flag(parser)
    args = parser.parse_args()
    if args.torch_side:
        return torch_side(args)
    shapes = [tuple(shape) for shape in json.loads(args.shapes)]
    print(f"cpu: {cpu_name()}")
    rates = measure(shapes, args.rounds, args.repeats, args.compare_torch, args.threads)
    print_table(shapes, rates)
    summary = f"matmul_peak_gflops={tensorflow_peak(rates):.1f}"
    if args.compare_torch:
        ratios = [x / t for x, t in zip(rates["xla"], rates["torch"])]
        summary += (f" torch_matmul_peak_gflops={max(rates['torch']):.1f}"
                    f" xla_over_torch_median={median(ratios):.3f}")
    write_if_asked(args, {"runs": [
        {"product": f"[{m}x{k}] x [{k}x{n}]", **{f"{side}_gflops": rates[side][index]
                                                 for side in rates}}
        for index, (m, k, n) in enumerate(shapes)], "matmul_peak_gflops": tensorflow_peak(rates)})
    print(summary)


if __name__ == "__main__":
    main()
