"""Where a training step's memory goes: resident memory (RSS) after each phase of building and
running one XLA-compiled step, for an update rule given by `--update`:

    python bench/memory_phases.py --preset mae_vit_base_patch16 --batch 8 --update adamw

`grads` computes the loss and gradients only (no update), `sgd` adds an in-place SGD update,
`adamw` is the library's optimizer as train.py builds it. A step's working set is the peak
RSS during it minus the RSS before it; freed heap is handed back (`malloc_trim`) between
steps so that each step's peak is its own.
"""

import argparse

import bench_common  # noqa: F401  (the repo on the import path)
from record import add_output_flag, write_if_asked


def rss_mb(field="VmRSS"):
    """The process' current (VmRSS) or peak-since-reset (VmHWM) resident memory, MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def start_phase():
    """Hand freed heap back to the OS and restart the peak (VmHWM) at the current RSS."""
    from keras_mae.training.callbacks.freed_memory import release_freed_memory

    release_freed_memory()
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return rss_mb()


def make_step(model, optimizer, update):
    """One jit-compiled training step: loss and gradients, then the `update` rule."""
    import tensorflow as tf

    def step(images):
        with tf.GradientTape() as tape:
            loss = model.compute_masked_loss(images, model(images, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        if update == "grads":  # Every gradient computed (each reduced to a number), no update.
            return loss + tf.add_n([tf.reduce_sum(g) for g in gradients]) * 0.0
        if update == "sgd":
            for variable, gradient in zip(model.trainable_variables, gradients):
                variable.assign_sub(1e-4 * gradient)
        else:
            optimizer.apply(gradients, model.trainable_variables)
        return loss

    return tf.function(step, jit_compile=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="mae_vit_base_patch16")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--update", choices=("grads", "sgd", "adamw"), default="adamw")
    add_output_flag(parser)
    args = parser.parse_args()

    import tensorflow as tf

    from keras_mae import MaskedAutoencoder
    from keras_mae.optimizers import pretraining_adamw

    imported = rss_mb()
    print(f"import TensorFlow and Keras: {imported:,.0f} MiB")
    model = MaskedAutoencoder.from_preset(args.preset, norm_pix_loss=True)
    print(f"+ model weights:              {rss_mb():,.0f} MiB")
    optimizer = pretraining_adamw(model, learning_rate=1e-4)
    optimizer.build(model.trainable_variables)
    images = tf.random.normal([args.batch, *model.image_size, model.num_channels])
    print(f"+ AdamW slots:                {start_phase():,.0f} MiB")
    step = make_step(model, optimizer, args.update)
    for index in range(args.steps):
        before = start_phase()
        step(images)
        peak = rss_mb("VmHWM")
        label = "first step (compiles)" if index == 0 else f"step {index}"
        print(f"{label:<22} peak {peak:,.0f} MiB, working set +{peak - before:,.0f} MiB")
    write_if_asked(args, {"preset": args.preset, "batch": args.batch, "update": args.update,
                          "import_tensorflow_keras_mb": imported, "state_mb": before,
                          "step_peak_mb": peak, "working_set_mb": peak - before})
    print(f"update={args.update} state_mb={before:.0f} step_peak_mb={peak:.0f} "
          f"working_set_mb={peak - before:.0f}")


if __name__ == "__main__":
    main()
