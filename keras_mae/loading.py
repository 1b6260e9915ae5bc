"""One way in: `keras_mae.load` takes a preset name, a `.keras` file, a released `.pth`
checkpoint of the paper's code or a HuggingFace ViTMAE folder, and gives the Keras model."""

import pathlib
import zipfile

import keras

from keras_mae.errors import InputError
from keras_mae.models.backbone import ViTBackbone
from keras_mae.models.classifier import ViTClassifier
from keras_mae.models.legacy import is_legacy, load_legacy
from keras_mae.models.masked_autoencoder import MaskedAutoencoder
from keras_mae.models.presets import PRESETS, get_preset
from keras_mae.models.resizing import at_image_size


def load(source, image_size=None, expect=(MaskedAutoencoder, ViTClassifier, ViTBackbone),
         **overrides):
    """The model `source` names.

    Args:
        source: a preset name (a new, randomly initialised `MaskedAutoencoder`, see
            `keras_mae.list_presets()`); a `.keras` file written by keras_mae (any version);
            a facebookresearch/mae `.pth` (`MaskedAutoencoder`, or `ViTClassifier` for the
            fine-tuned ones; needs PyTorch); a HuggingFace ViTMAE checkpoint folder; or a
            keras-hub ViT preset folder (a `ViTBackbone`; needs keras-hub).
        image_size: an int or (height, width) to use the model at, if not its own: the position
            tables are fitted to the new patch grid (fixed sin-cos tables built anew, learnt
            ones resized bicubically as the reference's `interpolate_pos_embed`).
        expect: the model class (or tuple of classes) the caller needs; anything else is
            refused naming the file, e.g. `expect=keras_mae.MaskedAutoencoder`.
        **overrides: constructor arguments for presets and released checkpoints, e.g.
            `norm_pix_loss=True` or `preset="mae_vit_large_patch16"` (checkpoints: which
            preset completes what the weights' shapes do not tell). Not for `.keras` files,
            which hold their whole configuration.

    Returns:
        A `MaskedAutoencoder`, `ViTClassifier` or `ViTBackbone` (whichever `source` holds),
        built and with its weights.

    Raises:
        InputError: `source` is none of these, does not exist, cannot be read, or holds
            another kind of model than `expect`.
    """
    model = _read(str(source), image_size, overrides)
    if image_size is not None:  # a .keras file or keras-hub preset (the others read at the size)
        model = at_image_size(model, image_size)
    if not isinstance(model, expect):
        kinds = [kind.__name__ for kind in (expect if isinstance(expect, tuple) else (expect,))]
        names = " or ".join(filter(None, [", ".join(kinds[:-1]), kinds[-1]]))
        raise InputError(f"{str(source)!r} holds a {type(model).__name__}, not a {names}: "
                         f"pass a checkpoint of a {names}.")
    return model


def _read(source, image_size, overrides):
    if source in PRESETS:
        size = {} if image_size is None else {"image_size": image_size}
        return MaskedAutoencoder.from_preset(source, **size, **overrides)
    path = pathlib.Path(source).expanduser()
    if path.is_dir():
        from keras_mae.convert.keras_hub import from_keras_hub, is_keras_hub_preset

        if is_keras_hub_preset(path):
            return from_keras_hub(path, **overrides)
        from keras_mae.convert.huggingface import load_hf_checkpoint

        return load_hf_checkpoint(path, image_size=image_size, **overrides)
    if path.suffix == ".keras" and path.is_file():
        if overrides:
            raise InputError(f"{source} is a .keras file: it holds its whole configuration, so "
                             f"{', '.join(overrides)} cannot be set when loading it.")
        return _load_keras_file(path)
    if path.suffix in (".pth", ".pt", ".bin") and path.is_file():
        from keras_mae.convert.official import load_official_checkpoint

        return load_official_checkpoint(path, image_size=image_size, **overrides)
    if not path.exists() and not path.suffix and "/" not in source:
        get_preset(source)  # a misspelt preset: refused with the closest name
    problem = "does not exist" if not path.exists() else "is not a model file keras_mae reads"
    raise InputError(
        f"Checkpoint {source!r} {problem}. Pass a .keras file a run wrote (e.g. "
        "runs/<run>/model.keras), an official .pth checkpoint, a HuggingFace ViTMAE folder or a "
        "preset name (keras_mae.list_presets())."
    )


def _load_keras_file(path):
    try:
        if is_legacy(path):
            return load_legacy(path)
        return keras.models.load_model(path, compile=False)
    except (ValueError, TypeError, KeyError, OSError, EOFError, zipfile.BadZipFile) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(
            f"Cannot read {str(path)!r} as a Keras model file ({reason}): expected a .keras "
            "archive as model.save writes it (a zip of config.json and model.weights.h5)."
        ) from None
