"""What the command lines share: one line for a user's mistake, and the data normalisation of a
checkpoint's run for the tools that turn pixels into model inputs and back.

Every command line (train.py, `python -m keras_mae.export`, `.visualize`, `.convert`) defines
its absl flags at the top of its module and runs `run(main)`.
"""

import json
import pathlib

from absl import app, flags

from keras_mae.errors import InputError, MAEError, exit_with


flags.DEFINE_bool("verbose", False, "Show TensorFlow's own logs (hidden by default; see "
                  "keras_mae/console.py).")


def run(main, **app_run_kwargs):
    """`absl.app.run(main)`, ending a `MAEError` in one line (`<kind>: <message>`) and its
    exit status instead of a traceback."""

    def guarded(argv):
        try:
            main(argv)
        except MAEError as error:
            exit_with(error)

    app.run(guarded, **app_run_kwargs)


def define_normalization_flags():
    """--mean and --std, for command lines that turn a checkpoint's inputs back into images."""
    flags.DEFINE_list("mean", None, "Per-channel data mean in 0..1, e.g. 0.485,0.456,0.406; "
                      "default: from the training run's config.json.")
    flags.DEFINE_list("std", None, "Per-channel data std in 0..1; default: as --mean.")


def normalization_from_flags(checkpoint):
    """(mean, std) from --mean/--std, else from the run that wrote `checkpoint`."""
    to_floats = lambda values: tuple(float(v) for v in values) if values else None
    return run_normalization(checkpoint, to_floats(flags.FLAGS.mean), to_floats(flags.FLAGS.std))


def run_normalization(checkpoint, mean=None, std=None):
    """(mean, std) in 0..1 per channel: as given, else from the `config.json` of the run that
    wrote `checkpoint` (beside it, or one folder up for `checkpoints/epoch_NNN.keras`)."""
    if mean is not None and std is not None:
        return tuple(mean), tuple(std)
    folder = pathlib.Path(checkpoint).resolve().parent
    for candidate in (folder / "config.json", folder.parent / "config.json"):
        if candidate.exists():
            data = json.loads(candidate.read_text())["data"]
            return tuple(mean or data["mean"]), tuple(std or data["std"])
    raise InputError(
        f"No config.json of a training run next to {checkpoint}, so the data normalisation is "
        "unknown. Pass it, e.g. --mean=0.485,0.456,0.406 --std=0.229,0.224,0.225 (ImageNet, "
        "the paper's released weights)."
    )
