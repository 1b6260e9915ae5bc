"""The input pipeline against what training eats: real CIFAR-10 JPEGs in a class-per-folder
tree -> decode -> RandomResizedCrop -> flip -> normalise -> batch (`keras_mae.data.from_folder`
+ `make_dataset`, as train.py builds it), alone, against training steps of the tiny preset,
in turns in one process. The pipeline should deliver at least 5x what training consumes.

    python bench/input_pipeline.py --batch 128
"""

import argparse
import os
import pathlib
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench_common import median
from record import add_output_flag, write_if_asked
from rounds import KerasContestant, interleave, timed

from devtools.cifar import CIFAR_ARCHIVE, extract_cifar

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class PipelineContestant:
    """Batches drawn from the training pipeline; its prefetch buffer is emptied untimed first,
    so that a round measures production, not what was buffered while training ran."""

    def __init__(self, folder, batch, skip=8):
        from keras_mae.data import from_folder, make_dataset

        source = from_folder(folder, num_channels=3)
        dataset = make_dataset(source, (32, 32), CIFAR_MEAN, CIFAR_STD, batch, training=True)
        self.iterator = iter(dataset.repeat())
        self.skip = skip
        self.round(skip)

    def round(self, batches):
        for _ in range(self.skip):
            next(self.iterator)
        return timed(lambda: next(self.iterator), batches)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--per-class", type=int, default=1000,
                        help="training JPEGs extracted per class")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=30, help="timed batches per round")
    parser.add_argument("--train-steps", type=int, default=3, help="timed steps per round")
    add_output_flag(parser)
    args = parser.parse_args()
    if not CIFAR_ARCHIVE.exists():
        raise SystemExit(f"CIFAR-10 JPEG archive not found at {CIFAR_ARCHIVE}.")
    with tempfile.TemporaryDirectory() as tmp:
        train = extract_cifar(CIFAR_ARCHIVE, pathlib.Path(tmp), args.per_class) / "train"
        print(f"{len(list(train.glob('*/*.jpg')))} training JPEGs extracted")
        pipeline = PipelineContestant(train, args.batch)
        training = KerasContestant("mae_vit_tiny_patch4_32", args.batch, "train")
        results = interleave(
            {"pipeline": pipeline, "training": training}, args.rounds,
            {"pipeline": args.batches, "training": args.train_steps},
        )
    rates = {name: [args.batch * 1000 / ms for ms in timings.round_ms]
             for name, timings in results.items()}
    for name, per_round in rates.items():
        print(f"{name} images/s per round: " + " ".join(f"{r:.0f}" for r in per_round))
    ratio = median([p / t for p, t in zip(rates["pipeline"], rates["training"])])
    pipeline_rate = args.batch * 1000 / median(results["pipeline"].all_step_ms)
    training_rate = args.batch * 1000 / median(results["training"].all_step_ms)
    write_if_asked(args, {"batch": args.batch, "pipeline_images_per_sec": pipeline_rate,
                          "training_images_per_sec": training_rate,
                          "pipeline_over_training": ratio})
    print(f"pipeline_images_per_sec={pipeline_rate:.0f} training_images_per_sec={training_rate:.1f} "
          f"pipeline_over_training={ratio:.1f}")


if __name__ == "__main__":
    main()
