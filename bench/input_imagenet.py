"""The ImageNet-size input pipeline on one CPU core: JPEGs of ImageNet's typical 500x375 (CIFAR-10
images upscaled, with grain so that they compress to ImageNet's ~110 KB) written as a TFDS
ArrayRecord data set, read by index -> decode -> RandomResizedCrop to 224 -> flip -> normalise
-> batch (`from_tfds` + `make_dataset`, as train.py reads ImageNet), tf.data and TensorFlow held
to one thread; the same JPEGs from a folder in turns. Images per second of one core's CPU time
(wall-clock rates too, which other work on the machine lowers), and how many such cores feed
one accelerator at the reference's ViT-L pretraining rate. `--workers N` adds one worker of a
multi-worker run (`WorkerShare`): it reads and augments only its 1/N of each global batch, so
its rate is counted in global images.

    python bench/input_imagenet.py [--workers 4]
"""

import argparse
import os
import pathlib
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench_common import median
from record import add_output_flag, write_if_asked
from rounds import QUIET_MAX_WAIT_S, interleave, timed

from devtools.cifar import CIFAR_ARCHIVE, extract_cifar
from devtools.machine import cpu_name
from devtools.tfds_folder import folder_as_tfds

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# facebookresearch/mae PRETRAIN.md: ViT-L, 800 epochs of ImageNet-1k's 1,281,167 images in ~42 h
# on 64 V100 GPUs.
REFERENCE_VIT_L_IMAGES_PER_SEC_PER_GPU = 800 * 1_281_167 / (42 * 3600) / 64


def write_photo_like_jpegs(cifar_train, destination, count, size=(375, 500), grain=12.0):
    """`count` JPEGs of `size` (quality 95) in `destination`/<class>/, from CIFAR-10 images
    upscaled bicubically with Gaussian grain: average bytes per file."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    files = sorted(pathlib.Path(cifar_train).glob("*/*.jpg"))[:count]
    total = 0
    for file in files:
        image = tf.io.decode_jpeg(tf.io.read_file(str(file)))
        large = tf.image.resize(tf.cast(image, tf.float32), size, method="bicubic")
        large = np.clip(large.numpy() + rng.normal(0, grain, large.shape), 0, 255)
        jpeg = tf.io.encode_jpeg(large.astype(np.uint8), quality=95).numpy()
        target = pathlib.Path(destination) / file.parent.name / file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(jpeg)
        total += len(jpeg)
    return total / len(files)


class PipelineContestant:
    """Batches of 224-px training images from `source`, on one thread. Each round starts a new
    iterator and reads two batches untimed, so that no buffer filled beforehand (or while the
    other contestant ran) is counted, and ends it, so that it does not run during the other's
    round."""

    def __init__(self, source, batch, share=None):
        import tensorflow as tf
        from keras_mae.data import make_dataset

        dataset = make_dataset(source, (224, 224), IMAGENET_MEAN, IMAGENET_STD, batch,
                               training=True, epochs=1000, share=share)
        options = tf.data.Options()
        options.threading.private_threadpool_size = 1
        options.threading.max_intra_op_parallelism = 1
        self.dataset = dataset.with_options(options)

    def round(self, batches):
        iterator = iter(self.dataset)
        for _ in range(2):
            next(iterator)
        result = timed(lambda: next(iterator), batches)
        del iterator
        return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=512, help="JPEGs written")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batches", type=int, default=8, help="timed batches per round")
    parser.add_argument("--workers", type=int, default=0,
                        help="also time one worker of this many, reading its share only")
    parser.add_argument("--quiet-wait", type=float, default=QUIET_MAX_WAIT_S,
                        help="seconds each turn waits at most for idle CPUs")
    add_output_flag(parser)
    args = parser.parse_args()
    if not CIFAR_ARCHIVE.exists():
        raise SystemExit(f"CIFAR-10 JPEG archive not found at {CIFAR_ARCHIVE}.")
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    from keras_mae.data import from_folder, from_tfds
    from keras_mae.data.worker_share import WorkerShare

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        cifar = extract_cifar(CIFAR_ARCHIVE, tmp / "cifar", args.images // 10 + 1) / "train"
        mean_bytes = write_photo_like_jpegs(cifar, tmp / "large", args.images)
        folder_as_tfds(tmp / "large", tmp / "tfds", "large_jpegs")
        print(f"{args.images} JPEGs of 500x375, {mean_bytes / 1000:.0f} KB on average; {cpu_name()}")
        contestants = {
            "array_record": PipelineContestant(
                from_tfds("large_jpegs", data_dir=str(tmp / "tfds"), download=False), args.batch),
            "folder": PipelineContestant(from_folder(tmp / "large"), args.batch),
        }
        if args.workers:
            contestants[f"array_record_one_of_{args.workers}_workers"] = PipelineContestant(
                from_tfds("large_jpegs", data_dir=str(tmp / "tfds"), download=False), args.batch,
                share=WorkerShare(0, args.workers, args.workers))
        results = interleave(contestants, args.rounds, args.batches, args.quiet_wait)
    rates, wall = {}, []
    for name, timings in results.items():
        per_round = [args.batch * 1000 / ms for ms in timings.round_ms]
        wall += per_round
        # Images per second of one core's CPU time: steady where other work shares the machine.
        rates[name] = args.batch * 1000 / median(timings.round_cpu_ms)
        print(f"{name}: images/s per round (wall) " + " ".join(f"{r:.0f}" for r in per_round)
              + f"; per second of one core's CPU time {rates[name]:.0f}")
    if args.workers:  # the global images a worker's core feeds, reading its share only
        print(f"one_of_{args.workers}_workers_over_every_image="
              f"{rates[f'array_record_one_of_{args.workers}_workers'] / rates['array_record']:.2f}")
    need = REFERENCE_VIT_L_IMAGES_PER_SEC_PER_GPU
    figures = {"jpegs": args.images, "batch": args.batch, "workers": args.workers or None,
               "array_record_images_per_core_sec": rates["array_record"],
               "folder_images_per_core_sec": rates["folder"],
               "wall_images_per_sec_per_round": wall, "load_average": round(os.getloadavg()[0]),
               "cores_per_gpu": need / rates["array_record"]}
    if args.workers:
        one_worker = rates[f"array_record_one_of_{args.workers}_workers"]
        figures.update(one_worker_images_per_core_sec=one_worker,
                       one_of_N_workers_over_every_image=one_worker / rates["array_record"])
    write_if_asked(args, figures)
    print(f"array_record_images_per_core_sec={rates['array_record']:.0f} "
          f"folder_images_per_core_sec={rates['folder']:.0f} "
          f"reference_vit_l_images_per_sec_per_gpu={need:.0f} "
          f"cores_per_gpu={need / rates['array_record']:.1f}")

if __name__ == "__main__":
    main()
