"""The cost of every ablation variant (devtools/ablation_variants.py) on one machine: FLOPs
per image, training step time and peak memory of the ablations' model and batch. Each variant
trains in a process of its own, in turns (ABBA) with the MAE baseline's, so that its time is
a ratio measured beside the baseline, whatever machine each variant's pretraining ran on.

    python bench/ablation_cost.py --output results/ablation_cost.json
    python experiments/run.py ablations --report-only   # the ablations' report, with the cost
"""

import argparse
import json
import pathlib
import shlex
import sys

from bench_common import median, preset_architecture
from flops import forward_flops
from rounds import ServedContestant, interleave

from devtools.ablation_variants import BASE, VARIANTS
from devtools.commit import commit
from devtools.machine import cpu_name

BASELINE = "mae"
PRESET = "mae_vit_micro_patch4_32"  # the ablations' model (experiments/cifar10/pretrain.py)


def worker(batch, fields, warmup):
    """A training process of the variant with model `fields`, serving rounds."""
    settings = [f"--set={name}={value!r}" for name, value in fields.items()]
    return ServedContestant("keras_worker.py", ["--preset", PRESET, "--batch", str(batch),
                                                "--warmup", str(warmup), *settings])


def measure(batch, names, rounds, steps, warmup):
    """{variant: cost}: each variant's rounds interleaved with the baseline's."""
    fields = {name: {**BASE, **changes} for name, _, changes in VARIANTS}
    baseline = worker(batch, fields[BASELINE], warmup).wait_ready()
    baseline_flops = forward_flops(preset_architecture(PRESET, **fields[BASELINE]))
    costs, baseline_steps = {}, []
    for name in names:
        if name == BASELINE:
            continue
        print(f"[{name}] {fields[name]}", flush=True)
        side = worker(batch, fields[name], warmup).wait_ready()
        timings = interleave({BASELINE: baseline, name: side}, rounds, steps)
        baseline_steps += timings[BASELINE].round_best_ms
        times = [v / b for v, b in zip(timings[name].round_best_ms,
                                       timings[BASELINE].round_best_ms)]
        costs[name] = cost(batch, fields[name], timings[name].round_best_ms,
                           side.close()["max_rss_mb"], baseline_flops, median(times))
    if not baseline_steps:  # no other variant asked for: the baseline alone
        baseline_steps = interleave({BASELINE: baseline}, rounds, steps)[BASELINE].round_best_ms
    # The baseline's time over all its rounds; its memory once it has run them all.
    costs[BASELINE] = cost(batch, fields[BASELINE], baseline_steps,
                           baseline.close()["max_rss_mb"], baseline_flops, 1.0)
    return {name: costs[name] for name in names if name in costs}


def cost(batch, fields, round_best_ms, max_rss_mb, baseline_flops, time_over_baseline):
    """One variant's figures: its step time is the median of its rounds' fastest steps."""
    step_ms = median(round_best_ms)
    flops = forward_flops(preset_architecture(PRESET, **fields))
    return {
        "model": fields,
        "train_gflop_per_image": round(3 * flops / 1e9, 4),  # forward + backward: 3x forward
        "flops_over_mae": round(flops / baseline_flops, 3),
        "step_ms": round(step_ms, 1),
        "train_images_per_sec": round(batch * 1000 / step_ms, 1),
        "time_over_mae": round(time_over_baseline, 3),
        "peak_rss_mib": round(max_rss_mb),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=256, help="the ablations' batch")
    known = [name for name, _, _ in VARIANTS]
    parser.add_argument("--variants", default=",".join(known),
                        help="comma-separated variant names (default: all)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--output", type=pathlib.Path,
                        help="write the figures as JSON here (results/ablation_cost.json: "
                        "the ablations' report shows them)")
    args = parser.parse_args()
    names = args.variants.split(",")
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(f"Unknown variant(s) {', '.join(unknown)}; known: {', '.join(known)}.")
    costs = measure(args.batch, names, args.rounds, args.steps, args.warmup)
    for name, figures in costs.items():
        print(f"{name}: {figures['train_images_per_sec']:.0f} images/s, time x"
              f"{figures['time_over_mae']:.2f}, FLOPs x{figures['flops_over_mae']:.2f}, "
              f"{figures['peak_rss_mib']} MiB")
    if args.output:
        with open(args.output, "w") as file:
            json.dump({"command": shlex.join(["python", *sys.argv]), "commit": commit(),
                       "cpu": cpu_name(), "preset": PRESET, "batch": args.batch,
                       "rounds": args.rounds, "steps": args.steps, "variants": costs},
                      file, indent=2)
            file.write("\n")
    slowest = max(costs, key=lambda name: costs[name]["time_over_mae"])
    print(f"variants={len(costs)} slowest={slowest} "
          f"slowest_time_over_mae={costs[slowest]['time_over_mae']:.3f}")


if __name__ == "__main__":
    main()
