"""Training (or encoder) throughput of keras_mae, optionally against the PyTorch reference.

Training is timed through the model's own compiled train function, the one `model.fit` calls
(`compile(jit_compile=True)` as train.py does, then `make_train_function`): forward, masked
norm-pix loss, backward and AdamW update, on random images. `--mode infer` times `encode`
(the whole, unmasked image) compiled with `tf.function(jit_compile=True)`.

`--user-path` times what a newcomer writes instead: `from_preset`, `compile()` with the
library's defaults and `fit` on a tf.data set, each step timed by a callback (bench/user_path.py;
the flags that configure the compiled step do not apply).

With `--compare-torch`, transformers' `ViTMAEForPreTraining` of the same architecture runs in
a second process and the two alternate round by round (ABBA), each timing its own steps while
the other waits, so that both see the same machine; the ratio is the median of the per-round
ratios. The last line is always `images_per_sec=... step_ms_median=...`.

    python bench/throughput.py --preset mae_vit_tiny_patch4_32 --batch 128 --compare-torch
    python bench/throughput.py --preset mae_vit_base_patch16 --batch 8 --mode infer --compare-torch
    python bench/throughput.py --preset mae_vit_tiny_patch4_32 --batch 128 --user-path --compare-torch
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench_common import max_rss_mb, median, parse_overrides, preset_architecture
from flops import step_flops
from record import add_output_flag, write_if_asked
from rounds import QUIET_MAX_WAIT_S, KerasContestant, interleave, speed_ratios
from torch_reference import torch_contestant
from variants import VARIANTS

from devtools.machine import cpu_name


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="mae_vit_tiny_patch4_32")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--mode", choices=("train", "infer"), default="train")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a constructor argument of the preset, e.g. num_layers=2")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps after compiling")
    parser.add_argument("--quiet-wait", type=float, default=QUIET_MAX_WAIT_S,
                        help="seconds a round may wait for idle CPUs before it starts")
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--no-xla", action="store_true", help="compile without XLA")
    parser.add_argument("--mixed-precision", default="", help="e.g. mixed_bfloat16")
    parser.add_argument("--intra-op-threads", type=int, default=0, help="0 = TensorFlow's default")
    parser.add_argument("--inter-op-threads", type=int, default=0, help="0 = TensorFlow's default")
    parser.add_argument("--remat", action="store_true",
                        help="build the model with remat=True (blocks recomputed in the backward)")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="library",
                        help="a model variant (constructor arguments, see bench/variants.py)")
    parser.add_argument("--user-path", action="store_true",
                        help="time from_preset + compile() defaults + fit, as a user trains")
    parser.add_argument("--compare-torch", action="store_true",
                        help="also time the PyTorch reference (torch, transformers)")
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--matmul-peak", action="store_true",
                        help="measure TF's matmul rate too and print the fraction reached")
    add_output_flag(parser)
    args = parser.parse_args(argv)
    if args.user_path and args.mode != "train":
        parser.error("--user-path times training: drop --mode infer.")
    return args


def configure_tensorflow(args):
    """Thread pools and precision: process-wide, so set before anything runs."""
    import keras
    import tensorflow as tf

    if args.intra_op_threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op_threads)
    if args.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op_threads)
    if args.mixed_precision:
        keras.mixed_precision.set_dtype_policy(args.mixed_precision)


def keras_contestant(args):
    """The Keras side as the arguments configure it."""
    configure_tensorflow(args)
    overrides = {**parse_overrides(args.set), **VARIANTS[args.variant]}
    if args.user_path:
        from user_path import UserPathContestant

        return UserPathContestant(args.preset, args.batch, args.warmup, overrides)
    return KerasContestant(
        args.preset, args.batch, args.mode, jit_compile=not args.no_xla,
        steps_per_execution=args.steps_per_execution, warmup=args.warmup,
        overrides={**parse_overrides(args.set), **VARIANTS[args.variant],
                   **({"remat": True} if args.remat else {})},
    )


def main(argv=None):
    args = parse_args(argv)
    overrides = parse_overrides(args.set)
    preset_architecture(args.preset, **overrides)  # bad names fail here, before anything loads
    torch = None
    if args.compare_torch:
        torch = torch_contestant(args.preset, args.batch, args.mode, args.torch_threads,
                                 args.warmup, args.set)
    keras_side = keras_contestant(args)
    contestants = {"keras": keras_side}
    if torch is not None:
        contestants["torch"] = torch.wait_ready()
    results = interleave(contestants, args.rounds, args.steps, args.quiet_wait)
    for name, timings in results.items():
        print(f"{name} per round, fastest/median wall (median CPU) ms/step: " + " ".join(
            f"{b:.0f}/{t:.0f} ({c:.0f})"
            for b, t, c in zip(timings.round_best_ms, timings.round_ms, timings.round_cpu_ms)))
    keras_ms = median(results["keras"].all_step_ms)
    flops = step_flops(args.preset, args.batch, args.mode, overrides)
    print(f"cpu: {cpu_name()}")
    print(f"preset={args.preset} batch={args.batch} mode={args.mode} "
          f"traces={keras_side.traces} max_rss_mb={max_rss_mb():.0f}")
    if args.mode == "train":
        print(f"keras trained: iterations {keras_side.initial_iterations} -> "
              f"{keras_side.iterations}, loss {keras_side.losses[0]:.4f} -> "
              f"{keras_side.losses[-1]:.4f}")
    gflops = flops / keras_ms / 1e6
    print(f"keras: {args.batch * 1000 / keras_ms:.2f} images/s, {keras_ms:.1f} ms/step, "
          f"{gflops:.1f} GFLOP/s ({flops / 1e9:.1f} GFLOP/step)")
    summary = f"images_per_sec={args.batch * 1000 / keras_ms:.2f} step_ms_median={keras_ms:.1f}"
    run = {"preset": args.preset, "batch": args.batch, "mode": args.mode, "rounds": args.rounds,
           "steps": args.steps, **configuration(args),
           "keras_fastest_step_ms": results["keras"].round_best_ms,
           "keras_median_step_ms": keras_ms}
    if torch is not None:
        torch_ms = median(results["torch"].all_step_ms)
        by_median, by_best, best_of_run = speed_ratios(results["torch"], results["keras"])
        cpu_ratio = median(results["torch"].round_cpu_ms) / median(results["keras"].round_cpu_ms)
        print(f"torch: {args.batch * 1000 / torch_ms:.2f} images/s, {torch_ms:.1f} ms/step, "
              f"{flops / torch_ms / 1e6:.1f} GFLOP/s")
        print("keras/torch speed per round, fastest steps: " + " ".join(f"{r:.3f}" for r in by_best)
              + "; medians: " + " ".join(f"{r:.3f}" for r in by_median))
        print(f"keras/torch speed: {median(by_best):.3f} (median over rounds, fastest steps), "
              f"{median(by_median):.3f} (median over rounds, median steps), {best_of_run:.3f} "
              f"(fastest step of the run); CPU time per step torch/keras: {cpu_ratio:.3f}; rounds "
              f"started on idle CPUs: keras {results['keras'].quiet_starts}, torch "
              f"{results['torch'].quiet_starts} of {args.rounds}")
        summary += (f" torch_images_per_sec={args.batch * 1000 / torch_ms:.2f}"
                    f" ratio_vs_torch={median(by_best):.3f}"
                    f" ratio_vs_torch_median_steps={median(by_median):.3f}"
                    f" ratio_vs_torch_best_of_run={best_of_run:.3f}")
        run.update(torch_fastest_step_ms=results["torch"].round_best_ms,
                   torch_median_step_ms=torch_ms, ratio_vs_torch=median(by_best),
                   ratio_vs_torch_median_steps=median(by_median),
                   ratio_vs_torch_best_of_run=best_of_run)
        torch.close()
    if args.matmul_peak:
        from matmul_peak import measure_peak

        peak = measure_peak()
        print(f"matmul peak {peak:.1f} GFLOP/s: keras reaches {gflops / peak:.0%} of it")
    write_if_asked(args, {"runs": [run]})
    print(summary)


def configuration(args):
    """What sets the run apart from the library's compiled step, named as its record names it
    (bench/figure_tables.py keeps such runs out of the library's ranges)."""
    departures = {"remat": args.remat, "path": "user" if args.user_path else None,
                  "variant": None if args.variant == "library" else args.variant,
                  "set": args.set, "no_xla": args.no_xla,
                  "mixed_precision": args.mixed_precision,
                  "steps_per_execution": args.steps_per_execution != 1 and args.steps_per_execution,
                  "intra_op_threads": args.intra_op_threads,
                  "inter_op_threads": args.inter_op_threads}
    return {key: value for key, value in departures.items() if value}


if __name__ == "__main__":
    main()
