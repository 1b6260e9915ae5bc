"""Where a compiled training step's (or `--mode infer`: encoder pass's) time goes: XLA's own
trace of a few steps, each executed HLO instruction classed as matrix products (dots,
convolutions) or the rest, with the products' GFLOP/s, to set beside `bench/matmul_peak.py`.

    python bench/step_profile.py --preset mae_vit_base_patch16 --batch 8 [--mode infer]
"""

import argparse
import collections
import os
import re
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme")

from bench_common import preset_architecture
from flops import step_flops
from record import add_output_flag, write_if_asked
from rounds import random_images

PRODUCT_OPCODES = ("dot", "convolution")


def product_instructions(hlo_text):
    """Names of all HLO instructions, and of those that are, or are fusions around, a dot or
    convolution."""
    instruction = re.compile(r"^\s*(?:ROOT )?%([\w.-]+) = .*? (\w[\w-]*)\((.*)$")
    computations, current = {}, None
    for line in hlo_text.splitlines():
        header = re.match(r"^(?:ENTRY )?%([\w.-]+) ", line)
        if header and line.rstrip().endswith("{"):
            current = computations.setdefault(header.group(1), [])
        elif current is not None and (parsed := instruction.match(line)):
            current.append(parsed.groups())
    has_product = {name for name, body in computations.items()
                   if any(opcode in PRODUCT_OPCODES for _, opcode, _ in body)}
    names, products = set(), set()
    for body in computations.values():
        for name, opcode, rest in body:
            names.add(name)
            called = re.findall(r"calls=%([\w.-]+)", rest)
            if opcode in PRODUCT_OPCODES or any(c in has_product for c in called):
                products.add(name)
    return names, products


def traced_instruction_ms(logdir, steps):
    """Summed duration (ms a step) of each HLO instruction in the trace under `logdir`."""
    import glob

    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    path = sorted(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    durations = collections.Counter()
    for plane in space.planes:
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        hlo_op = {key for key, meta in plane.stat_metadata.items() if meta.name == "hlo_op"}
        for line in plane.lines:
            for event in line.events:
                if any(stat.metadata_id in hlo_op for stat in event.stats):
                    durations[names[event.metadata_id]] += event.duration_ps / 1e9 / steps
    return durations


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="mae_vit_base_patch16")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--mode", choices=("train", "infer"), default="train")
    parser.add_argument("--steps", type=int, default=2, help="traced steps")
    parser.add_argument("--top", type=int, default=8, help="largest other kinds to list")
    add_output_flag(parser)
    args = parser.parse_args()

    import tensorflow as tf

    from keras_mae import MaskedAutoencoder
    from keras_mae.optimizers import pretraining_adamw

    model = MaskedAutoencoder.from_preset(args.preset, norm_pix_loss=True, seed=0)
    images = tf.constant(random_images(preset_architecture(args.preset), args.batch))
    if args.mode == "train":
        model.compile(optimizer=pretraining_adamw(model, 1e-4), jit_compile=True)
        model.optimizer.build(model.trainable_variables)
        compiled = tf.function(model.train_step, jit_compile=True)  # what fit's step compiles
        step = lambda: float(compiled(images)["loss"])  # noqa: E731 (waits for the step)
    else:
        compiled = tf.function(model.encode, jit_compile=True)
        step = lambda: compiled(images).numpy()  # noqa: E731
    names, products = product_instructions(
        compiled.experimental_get_compiler_ir(images)("optimized_hlo"))
    for _ in range(2):
        step()
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        wall_ms = (time.perf_counter() - start) * 1e3 / args.steps
        tf.profiler.experimental.stop()
        durations = traced_instruction_ms(logdir, args.steps)

    unknown = set(durations) - names
    if unknown:  # the trace comes from another compilation than the HLO read above
        raise SystemExit(f"{len(unknown)} traced instructions are not in the step's HLO, e.g. "
                         f"{sorted(unknown)[:3]}")
    product_ms = sum(ms for name, ms in durations.items() if name in products)
    total_ms = sum(durations.values())
    other = collections.Counter()
    for name, ms in durations.items():
        if name not in products:
            other[re.sub(r"\.\d+$", "", name)] += ms
    gflops = step_flops(args.preset, args.batch, args.mode) / 1e9
    print(f"preset={args.preset} batch={args.batch} mode={args.mode}: {gflops:.4g} GFLOP a step "
          "(matmuls, convolutions)")
    print(f"traced instructions: {total_ms:.0f} ms a step (summed over threads; wall time "
          f"{wall_ms:.0f} ms a step)")
    print(f"  matrix products: {product_ms:.0f} ms ({product_ms / total_ms:.0%}), "
          f"{gflops / product_ms * 1e3:.1f} GFLOP/s")
    print(f"  everything else: {total_ms - product_ms:.0f} ms ({1 - product_ms / total_ms:.0%})")
    for kind, ms in other.most_common(args.top):
        print(f"    {ms:7.1f} ms  {kind}")
    write_if_asked(args, {"preset": args.preset, "batch": args.batch, "mode": args.mode,
                          "wall_step_ms": wall_ms, "step_ms": total_ms, "products_ms": product_ms,
                          "products_percent": 100 * product_ms / total_ms,
                          "products_gflops": gflops / product_ms * 1e3})
    print(f"step_ms={total_ms:.1f} products_ms={product_ms:.1f} "
          f"products_gflops={gflops / product_ms * 1e3:.1f}")


if __name__ == "__main__":
    main()
