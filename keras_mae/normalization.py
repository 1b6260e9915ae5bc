"""The data normalisation a model was trained with, which serving and pictures must undo."""

import json
import pathlib

from absl import flags

from keras_mae.checkpoints import load_model_file
from keras_mae.errors import InputError


def define_flags():
    """--mean and --std for command lines that turn a checkpoint's pixels back into images."""
    flags.DEFINE_list("mean", None, "Per-channel data mean in 0..1, e.g. 0.485,0.456,0.406; "
                      "default: from the training run's config.json.")
    flags.DEFINE_list("std", None, "Per-channel data std in 0..1; default: as --mean.")


def from_flags(checkpoint):
    """(mean, std) from --mean/--std, else from the run that wrote `checkpoint`."""
    to_floats = lambda values: tuple(float(v) for v in values) if values else None
    return run_normalization(checkpoint, to_floats(flags.FLAGS.mean), to_floats(flags.FLAGS.std))


def load_from_flags(checkpoint):
    """(model, mean, std): the `.keras` model first (a missing file is named as such), then its
    normalisation from --mean/--std or its run's config.json."""
    model = load_model_file(checkpoint)
    return (model, *from_flags(checkpoint))


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
