"""One lever, measured: two configurations of keras_mae (each a throughput.py argument string,
optionally with environment variables) in two processes, alternating rounds (ABBA).

    python bench/levers.py --preset mae_vit_tiny_patch4_32 --batch 128 \
        --b="--steps-per-execution 4"
    python bench/levers.py --preset mae_vit_tiny_patch4_32 --batch 128 \
        --b-env XLA_FLAGS=--xla_cpu_use_onednn=true

Pass the argument strings as `--a=...`/`--b=...` (they start with "--"). The last line is
`speedup_b_over_a=...`: the median over rounds of A's fastest step time / B's.
"""

import argparse
import shlex

from bench_common import median
from record import add_output_flag, write_if_asked
from rounds import ServedContestant, interleave, speed_ratios


def compare(preset, batch, mode, a="", b="", a_env=(), b_env=(), rounds=6, steps=3, warmup=2):
    """Time configurations A and B in turns; print each side and return B's speed-up over A."""
    common = ["--preset", preset, "--batch", str(batch), "--mode", mode, "--warmup", str(warmup)]
    configs = {"A": (a, a_env), "B": (b, b_env)}
    sides = {
        name: ServedContestant("keras_worker.py", common + shlex.split(flags),
                               dict(pair.split("=", 1) for pair in env))
        for name, (flags, env) in configs.items()
    }
    for side in sides.values():
        side.wait_ready()
    results = interleave(sides, rounds, steps)
    for name, side in sides.items():
        report = side.close()
        flags, env = configs[name]
        timings = results[name]
        print(f"{name}: {flags or '(library defaults)'} {' '.join(env)} | per round, fastest/"
              "median wall (median CPU) ms/step: " + " ".join(
                  f"{b:.0f}/{t:.0f} ({c:.0f})" for b, t, c in
                  zip(timings.round_best_ms, timings.round_ms, timings.round_cpu_ms))
              + f" | traces={report['traces']} max_rss_mb={report['max_rss_mb']:.0f}")
    by_median, by_best, best_of_run = speed_ratios(results["A"], results["B"])
    cpu_ratio = median(results["A"].round_cpu_ms) / median(results["B"].round_cpu_ms)
    print("A/B step time per round, fastest steps: " + " ".join(f"{r:.3f}" for r in by_best)
          + "; medians: " + " ".join(f"{r:.3f}" for r in by_median))
    print(f"B's speed-up over A: {median(by_best):.3f} (median over rounds, fastest steps), "
          f"{median(by_median):.3f} (median steps), {best_of_run:.3f} (fastest step of the run), "
          f"{cpu_ratio:.3f} (CPU time per step); rounds started on idle CPUs: "
          f"A {results['A'].quiet_starts}, B {results['B'].quiet_starts} of {rounds}")
    return min(results["A"].all_step_ms), min(results["B"].all_step_ms), median(by_best)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="mae_vit_tiny_patch4_32")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--mode", choices=("train", "infer"), default="train")
    parser.add_argument("--a", default="", help="throughput.py arguments of configuration A")
    parser.add_argument("--b", default="", help="throughput.py arguments of configuration B")
    parser.add_argument("--a-env", nargs="*", default=[], help="NAME=value for A's process")
    parser.add_argument("--b-env", nargs="*", default=[], help="NAME=value for B's process")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    add_output_flag(parser)
    args = parser.parse_args()
    a_ms, b_ms, speedup = compare(args.preset, args.batch, args.mode, args.a, args.b,
                                  args.a_env, args.b_env, args.rounds, args.steps, args.warmup)
    write_if_asked(args, {"preset": args.preset, "batch": args.batch, "mode": args.mode,
                          "a": args.a, "b": args.b, "a_best_step_ms": a_ms, "b_best_step_ms": b_ms,
                          "speedup_b_over_a": speedup})
    print(f"a_best_step_ms={a_ms:.1f} b_best_step_ms={b_ms:.1f} speedup_b_over_a={speedup:.3f}")


if __name__ == "__main__":
    main()
