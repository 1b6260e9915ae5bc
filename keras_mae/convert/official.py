"""Checkpoints of the paper's code (facebookresearch/mae): `.pth` files holding {"model": state}.

Three kinds are released: pretrained encoders (`mae_pretrain_vit_*.pth`, no decoder), the
visualisation models (`mae_visualize_vit_*.pth`, encoder and decoder) and fine-tuned classifiers
(`mae_finetuned_vit_*.pth`, with `fc_norm` and `head`). Their names are mapped onto this
library's weights; every other name format is translated into this one first.
"""

import argparse
import re

import numpy as np

from keras_mae.convert.weights import assign_weights
from keras_mae.errors import InputError, MissingDependency
from keras_mae.layers.patching import check_patch_grid, image_size_pair
from keras_mae.models.backbone import ViTBackbone
from keras_mae.models.classifier import ViTClassifier
from keras_mae.models.masked_autoencoder import MaskedAutoencoder
from keras_mae.models.presets import PRESETS, get_preset, split_arguments
from keras_mae.models.resizing import at_image_size

_TENSORS = {
    "cls_token": "backbone/cls_token",
    "pos_embed": "backbone/pos_embed",
    "mask_token": "decoder/mask_token",
    "decoder_pos_embed": "decoder/pos_embed",
}
_LAYERS = {
    "patch_embed.proj": "backbone/patch_embed/projection",
    "norm": "backbone/norm",
    "decoder_embed": "decoder/embed",
    "decoder_norm": "decoder/norm",
    "decoder_pred": "decoder/pred",
    "fc_norm": "fc_norm",
    "head": "head",
}
_BLOCK_LAYERS = {
    "norm1": "norm1", "norm2": "norm2", "attn.qkv": "attn/qkv", "attn.proj": "attn/proj",
    "mlp.fc1": "mlp/fc1", "mlp.fc2": "mlp/fc2",
}
_REQUIRED = ("patch_embed.proj.weight", "blocks.0.mlp.fc1.weight")  # what shapes are read from
_BLOCK_KEY = re.compile(r"(decoder_)?blocks\.(\d+)\.(.+)")


def read_pth(path):
    """The state dict of a `.pth` checkpoint as NumPy arrays (needs PyTorch)."""
    try:
        import torch
    except ImportError as error:
        raise MissingDependency(
            f"Reading {path} needs PyTorch, an optional dependency of keras_mae: "
            "pip install -r requirements-torch.txt, or pip install '.[torch]' (a CPU build). "
            "HuggingFace checkpoints in safetensors form need no PyTorch."
        ) from error
    # The reference saves its argparse arguments beside the weights.
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load's failures on a damaged or foreign file vary
        raise InputError(f"Cannot read {str(path)!r} as a PyTorch checkpoint "
                         f"({_first_line(error)}): expected a .pth file that torch.save "
                         "wrote, e.g. the released mae_pretrain_vit_base.pth.") from None
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(
            isinstance(value, torch.Tensor) for value in state.values()):
        raise InputError(f"{str(path)!r} holds no state dict of weights (a dict of tensors, "
                         "or one under \"model\" as the MAE reference saves them).")
    return {key: value.float().numpy() for key, value in state.items()}


def _first_line(error, limit=120):
    """The error's type and the start of its message, to quote inside a one-line message."""
    text = f"{type(error).__name__}: {str(error).strip()}".splitlines()[0]
    return text if len(text) <= limit else text[:limit] + "..."


def _keras_layer(module):
    """Official module name -> this library's layer path (relative to the model)."""
    if module in _LAYERS:
        return _LAYERS[module]
    match = _BLOCK_KEY.fullmatch(module)
    if match and match.group(3) in _BLOCK_LAYERS:
        side = "decoder" if match.group(1) else "backbone"
        return f"{side}/block_{match.group(2)}/{_BLOCK_LAYERS[match.group(3)]}"
    return None


def keras_arrays(state):
    """Official state dict -> {weight path relative to the model: array in Keras layout}."""
    arrays = {}
    for key, value in state.items():
        if key in _TENSORS:
            arrays[_TENSORS[key]] = value
            continue
        module, _, kind = key.rpartition(".")
        layer = _keras_layer(module)
        if layer is None or kind not in ("weight", "bias"):
            raise InputError(
                f"Unexpected weight {key!r} {value.shape} in the checkpoint: not one of the MAE "
                "reference's pretraining, visualisation or fine-tuning models."
            )
        if re.search(r"norm\d?$", layer):
            arrays[f"{layer}/{'gamma' if kind == 'weight' else 'beta'}"] = value
        elif kind == "bias":
            arrays[f"{layer}/bias"] = value
        elif value.ndim == 4:  # conv [out, in, kh, kw] -> [kh, kw, in, out]
            arrays[f"{layer}/kernel"] = value.transpose(2, 3, 1, 0)
        else:  # linear [out, in] -> [in, out]
            arrays[f"{layer}/kernel"] = value.T
    return arrays


def _count_blocks(state, prefix):
    return len({key.split(".")[1] for key in state if key.startswith(prefix + ".")})


def inferred_arguments(state, image_size=None):
    """The architecture that official-format weights imply (heads excepted: shapes hide them);
    `image_size` tells a non-square grid apart when its patch count matches (shapes do not)."""
    missing = [key for key in _REQUIRED if key not in state]
    if missing:
        raise InputError(
            f"It holds no MAE ViT: {missing[0]!r} is missing (its weights: "
            f"{', '.join(list(state)[:3])}, ...); expected a facebookresearch/mae checkpoint "
            "(mae_pretrain_vit_*, mae_visualize_vit_*, mae_finetuned_vit_*) or a HuggingFace "
            "ViTMAE one."
        )
    dim, channels, patch, _ = state["patch_embed.proj.weight"].shape
    config = dict(
        patch_size=patch, num_channels=channels, hidden_dim=dim,
        num_layers=_count_blocks(state, "blocks"),
        mlp_dim=state["blocks.0.mlp.fc1.weight"].shape[0],
    )
    if "pos_embed" in state:
        config["image_size"] = _table_image_size(state["pos_embed"].shape[1] - 1, patch,
                                                 image_size)
    if "decoder_embed.weight" in state:
        config.update(
            decoder_hidden_dim=state["decoder_embed.weight"].shape[0],
            decoder_num_layers=_count_blocks(state, "decoder_blocks"),
            decoder_mlp_dim=state["decoder_blocks.0.mlp.fc1.weight"].shape[0],
        )
    return config


def _table_image_size(num_patches, patch, image_size):
    """The image size of a position table of `num_patches`: a square grid, or `image_size` if
    its grid has that many patches."""
    side = int(round(np.sqrt(num_patches)))
    if side * side == num_patches:
        return side * patch
    if image_size is not None:
        rows, cols = check_patch_grid(image_size_pair(image_size), patch)
        if rows * cols == num_patches:
            return image_size_pair(image_size)
    raise InputError(
        f"Its position table holds {num_patches} patches, no square grid: pass the "
        "checkpoint's own image_size=(height, width) to tell its rows from its columns."
    )


def _matching_preset(inferred):
    """The preset whose backbone (and decoder, if known) has these shapes, or None."""
    for name, preset in PRESETS.items():
        known = {**preset["backbone"], **preset["decoder"]}
        if all(known[key] == value for key, value in inferred.items() if key != "image_size"):
            return name
    return None


def checkpoint_arguments(state, preset=None, image_size=None, **overrides):
    """(backbone arguments, MAE arguments) for official-format weights: the shapes, completed
    by `preset` (inferred from the shapes when not given) for what shapes do not tell, then
    `overrides`. Decoder heads default to 16, the reference's for all its models."""
    inferred = inferred_arguments(state, image_size)
    preset = preset or _matching_preset(inferred)
    known = {**get_preset(preset)["backbone"], **get_preset(preset)["decoder"]} if preset else {}
    backbone, task = split_arguments({"decoder_num_heads": 16, **known, **inferred, **overrides})
    if "num_heads" not in backbone:
        raise InputError(
            f"Cannot tell the number of attention heads from the weights' shapes ({inferred}), "
            f"and no preset has these shapes. Pass num_heads=... (and decoder_num_heads=...), "
            f"or preset=<name> (one of {', '.join(sorted(PRESETS))})."
        )
    return backbone, task


def build_model(state, preset=None, image_size=None, **overrides):
    """A `MaskedAutoencoder` (or `ViTClassifier`, for fine-tuned weights) holding `state`, for
    images of `image_size` if given (see `keras_mae.load`), else of the checkpoint's size."""
    backbone_arguments, arguments = checkpoint_arguments(state, preset, image_size, **overrides)
    if "head.weight" in state:
        pooling = "avg" if "fc_norm.weight" in state else "cls"
        backbone = ViTBackbone(**backbone_arguments, trainable_pos_embed=True, name="backbone")
        model = ViTClassifier(backbone, state["head.weight"].shape[0], pooling=pooling)
        fresh = ("backbone/norm/",) if pooling == "avg" else ()
    else:
        model = MaskedAutoencoder(ViTBackbone(**backbone_arguments, name="backbone"),
                                  **arguments)
        fresh = ("decoder/",)
    assign_weights(model, keras_arrays(state), fresh_ok=fresh)
    return model if image_size is None else at_image_size(model, image_size)


def load_official_checkpoint(path, preset=None, image_size=None, **overrides):
    """A facebookresearch/mae `.pth` checkpoint as a Keras model (needs PyTorch to read).

    Pretrained encoders give a `MaskedAutoencoder` whose decoder is freshly initialised; the
    visualisation checkpoints give encoder and decoder; fine-tuned ones give a `ViTClassifier`.
    Args:
        path: the `.pth` file ({"model": state dict}, as the paper's code saves it).
        preset: the preset that completes what the weights' shapes do not tell; None: inferred
            from the shapes.
        image_size: an int or (height, width) to fit the position tables to (see
            `keras_mae.load`); None: the size of the checkpoint's position table.
        **overrides: other constructor arguments, e.g. `norm_pix_loss=True` for models
            trained with it, which the weights do not tell.

    Returns:
        A `MaskedAutoencoder` or a `ViTClassifier` with the checkpoint's weights.

    Raises:
        InputError: the file cannot be read, or holds no model of this architecture.
        MissingDependency: PyTorch is not installed.
    """
    state = read_pth(path)
    try:
        return build_model(state, preset, image_size, **overrides)
    except InputError as error:
        raise InputError(f"{str(path)!r}: {error}") from None
