"""`python -m keras_mae.check`: the self-check to run on a new machine before a long run.

For the devices it finds (the CPU, the GPUs, a TPU named by --tpu) it trains a tiny MAE a few
steps on one device without XLA (the reference), then on one device and on all of them with
XLA off and on, in the mixed precision asked for; every setup must end with the reference's
weights (one device = N replicas, within a stated tolerance). It prints a table with a verdict
and the images/s of each setup, and writes it as JSON. On a CPU-only host the CPU is split into
--cpu_devices logical devices, so that the several-replica path is checked there too.
"""

import json
import platform
import time
import types

import keras
import numpy as np
import tensorflow as tf
from absl import flags

from keras_mae import cli
from keras_mae.models import MaskedAutoencoder, ViTBackbone
from keras_mae.training.distribute import make_tpu_strategy, split_cpu

_JSON = flags.DEFINE_string("json", "keras_mae_check.json", "Where to write the results.")
_MIXED_PRECISION = flags.DEFINE_enum(
    "mixed_precision", "", ["", "mixed_float16", "mixed_bfloat16"],
    "The policy of the checked setups (the reference trains in float32).")
_STEPS = flags.DEFINE_integer("steps", 3, "Training steps per setup (and as many timed).")
_BATCH = flags.DEFINE_integer("batch_per_replica", 8, "Images per replica and step.")
_CPU_DEVICES = flags.DEFINE_integer("cpu_devices", 2, "Logical CPU devices on a host without "
                                    "GPUs or TPU.")
_TPU = flags.DEFINE_string("tpu", "", "A TPU to check too: 'local' on a TPU VM, or its name.")

# A 32-px MAE small enough to compile in seconds: 8x8 patches of 4 px, 2 blocks of width 64.
TINY_MAE = dict(image_size=(32, 32), patch_size=4, num_channels=3, hidden_dim=64, num_layers=2,
                num_heads=4, mlp_dim=128)
TINY_DECODER = dict(decoder_hidden_dim=32, decoder_num_layers=1, decoder_num_heads=2,
                    decoder_mlp_dim=64)
# Largest weight difference from the reference allowed, relative to the weight's own largest
# magnitude: float32 differs only by the order of sums; 16-bit policies round every product.
TOLERANCE = {"": 1e-4, "mixed_bfloat16": 5e-2, "mixed_float16": 1e-2}


def tiny_mae():
    return MaskedAutoencoder(ViTBackbone(**TINY_MAE, name="backbone"), **TINY_DECODER)


def training_batches(global_batch, steps, seed=0):
    """`steps` batches of {"images", "noise"}: fixed masks, so that every setup draws alike."""
    rng = np.random.default_rng(seed)
    num_patches = (TINY_MAE["image_size"][0] // TINY_MAE["patch_size"]) ** 2
    images = rng.normal(size=(steps, global_batch, *TINY_MAE["image_size"], 3))
    noise = rng.random((steps, global_batch, num_patches))
    return tf.data.Dataset.from_tensor_slices(
        {"images": images.astype("float32"), "noise": noise.astype("float32")})


def train(strategy, jit_compile, policy, initial_weights, batches, steps):
    """(weights after `steps` SGD steps, images/s of `steps` more steps) of the tiny MAE."""
    keras.mixed_precision.set_dtype_policy(policy or "float32")
    try:
        with strategy.scope():
            model = tiny_mae()
            model.set_weights(initial_weights)
            model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=jit_compile)
        model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0)  # compiles
        weights = [np.asarray(w, "float32") for w in model.get_weights()]
        start = time.perf_counter()
        model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0)
        seconds = time.perf_counter() - start
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    return weights, steps * int(batches.element_spec["images"].shape[0]) / seconds


def largest_difference(weights, reference):
    """max over the weights of |w - reference| / max |reference| (0 where both are 0)."""
    return max(float(np.abs(w - r).max() / max(np.abs(r).max(), 1e-12))
               for w, r in zip(weights, reference))


def verdict(difference, tolerance):
    return "ok" if difference <= tolerance else "MISMATCH"


def strategies(tpu):
    """(name, strategy) of one device and of all devices found (and of the TPU, if named)."""
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    found = [(f"1 device ({devices[0]})", tf.distribute.OneDeviceStrategy(devices[0]))]
    if len(devices) > 1:
        found.append((f"{len(devices)} devices", tf.distribute.MirroredStrategy(devices)))
    if tpu:
        tpu_strategy = make_tpu_strategy(types.SimpleNamespace(tpu=tpu, tpu_zone="",
                                                               tpu_project=""))
        found.append((f"TPU ({tpu_strategy.num_replicas_in_sync} cores)", tpu_strategy))
    return found


def run_checks(found, policy, steps, batch_per_replica):
    """One row per setup, each trained on the same global batches as the reference."""
    reference_name, reference_strategy = found[0]
    largest = max(strategy.num_replicas_in_sync for _, strategy in found)
    batches = training_batches(batch_per_replica * largest, steps)
    keras.utils.set_random_seed(0)
    initial = tiny_mae().get_weights()
    reference, _ = train(reference_strategy, False, "", initial, batches, steps)
    tolerance = TOLERANCE[policy]
    rows = []
    for name, strategy in found:
        xla_options = [None] if isinstance(strategy, tf.distribute.TPUStrategy) else [False, True]
        for jit_compile in xla_options:
            row = {"setup": name, "replicas": strategy.num_replicas_in_sync,
                   "xla": "TPU" if jit_compile is None else ("on" if jit_compile else "off"),
                   "precision": policy or "float32", "tolerance": tolerance}
            try:
                weights, speed = train(strategy, bool(jit_compile), policy, initial, batches,
                                       steps)
                difference = largest_difference(weights, reference)
                row.update(images_per_sec=round(speed, 1), difference=difference,
                           verdict=verdict(difference, tolerance))
            except Exception as error:  # a setup that cannot run is a verdict, not a crash
                row.update(images_per_sec=None, difference=None,
                           verdict=f"FAILED: {type(error).__name__}: {str(error).splitlines()[0]}")
            rows.append(row)
    return {"reference": f"{reference_name}, XLA off, float32", "rows": rows}


def table(rows):
    """The rows as a Markdown table."""
    lines = ["| setup | XLA | precision | images/s | weight difference | verdict |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        difference = "-" if row["difference"] is None else f"{row['difference']:.1e}"
        lines.append(f"| {row['setup']} | {row['xla']} | {row['precision']} | "
                     f"{row['images_per_sec'] or '-'} | {difference} | {row['verdict']} |")
    return "\n".join(lines)


def main(argv):
    del argv
    if not tf.config.list_physical_devices("GPU") and not _TPU.value and _CPU_DEVICES.value > 1:
        split_cpu(_CPU_DEVICES.value)
    report = run_checks(strategies(_TPU.value), _MIXED_PRECISION.value, _STEPS.value,
                        _BATCH.value)
    report.update(tensorflow=tf.__version__, keras=keras.__version__,
                  machine=platform.processor() or platform.machine(),
                  date=time.strftime("%Y-%m-%d"))
    with open(_JSON.value, "w") as file:
        json.dump(report, file, indent=1)
    passed = all(row["verdict"] == "ok" for row in report["rows"])
    print(f"Reference: {report['reference']}; tolerance {TOLERANCE[_MIXED_PRECISION.value]:g} "
          "of each weight's largest magnitude.")
    print(table(report["rows"]))
    print(f"{'PASSED' if passed else 'FAILED'}: {sum(r['verdict'] == 'ok' for r in report['rows'])}"
          f" of {len(report['rows'])} setups agree with the reference; written to {_JSON.value}")
    if not passed:
        raise SystemExit(1)


if __name__ == "__main__":
    cli.run(main)
