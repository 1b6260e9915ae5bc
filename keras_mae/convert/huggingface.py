"""HuggingFace ViTMAE checkpoints: a folder with `config.json` and `model.safetensors` (or
`pytorch_model.bin`, or sharded files with an index), as `save_pretrained` and the Hub give them.

Weight names are translated into the reference's (see `official.py`), fusing the separate
query/key/value projections into the reference's single qkv projection.
"""

import json
import pathlib
import re

import numpy as np

from keras_mae.convert import official
from keras_mae.errors import InputError
from keras_mae.models.presets import get_preset
from keras_mae.models.resizing import at_image_size

# Weight names across transformers versions -> one form: 4.x wrote `encoder.layer.N` and
# `attention.attention.query`, 5.x holds `layers.N` and `attention.q_proj`.
_HF_RENAMES = [
    (r"encoder\.layer\.", "layers."),
    (r"attention\.attention\.query", "attention.q_proj"),
    (r"attention\.attention\.key", "attention.k_proj"),
    (r"attention\.attention\.value", "attention.v_proj"),
    (r"attention\.output\.dense", "attention.o_proj"),
    (r"intermediate\.dense", "mlp.fc1"),
    (r"output\.dense", "mlp.fc2"),
]
_TO_OFFICIAL = [
    (r"^vit\.embeddings\.cls_token$", "cls_token"),
    (r"^vit\.embeddings\.position_embeddings$", "pos_embed"),
    (r"^vit\.embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
    (r"^vit\.layernorm\.", "norm."),
    (r"^vit\.layers\.(\d+)\.", r"blocks.\1."),
    (r"^decoder\.decoder_layers\.(\d+)\.", r"decoder_blocks.\1."),
    (r"^decoder\.", ""),
    (r"layernorm_before\.", "norm1."),
    (r"layernorm_after\.", "norm2."),
    (r"attention\.o_proj\.", "attn.proj."),
]


def read_state(folder):
    """The checkpoint's weights as NumPy arrays, from safetensors (no PyTorch needed) or .bin."""
    folder = pathlib.Path(folder)
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index_name).exists():
            shards = sorted(set(json.loads((folder / index_name).read_text())["weight_map"].values()))
            return {k: v for shard in shards for k, v in _read_file(folder / shard).items()}
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).exists():
            return _read_file(folder / name)
    raise InputError(
        f"No model.safetensors or pytorch_model.bin in {folder}: pass the folder that "
        "save_pretrained wrote (or a Hub snapshot of a ViTMAE model)."
    )


def _read_file(path):
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as error:
            raise InputError(f"Cannot read {path.name} as safetensors ({error}): expected the "
                             "file that save_pretrained writes.") from None
    return official.read_pth(path)


def official_state(hf_state):
    """HuggingFace ViTMAE weight names and layout -> the reference's (fused qkv)."""
    state = {}
    for key, value in hf_state.items():
        if not key.startswith(("vit.", "decoder.")):  # ViTMAEModel: the encoder, unprefixed
            key = "vit." + key
        for pattern, replacement in _HF_RENAMES + _TO_OFFICIAL:
            key = re.sub(pattern, replacement, key)
        state[key] = np.asarray(value, np.float32)
    for key in [k for k in state if ".attention.q_proj." in k]:
        prefix, kind = key.split(".attention.q_proj.")
        parts = [state.pop(f"{prefix}.attention.{p}_proj.{kind}") for p in "qkv"]
        state[f"{prefix}.attn.qkv.{kind}"] = np.concatenate(parts, axis=0)
    return state


_CONFIG_KEYS = ("image_size", "patch_size", "num_channels", "hidden_size", "num_hidden_layers",
                "num_attention_heads", "intermediate_size", "decoder_hidden_size",
                "decoder_num_hidden_layers", "decoder_num_attention_heads",
                "decoder_intermediate_size", "mask_ratio", "norm_pix_loss", "layer_norm_eps")


def hf_arguments(hf_config):
    """Our (flat) constructor arguments from a ViTMAE `config.json`."""
    if hf_config.get("hidden_act", "gelu") != "gelu" or not hf_config.get("qkv_bias", True):
        raise InputError(
            f"Only ViTMAE models with GELU and qkv biases (the paper's) convert; this one has "
            f"hidden_act={hf_config.get('hidden_act')!r}, qkv_bias={hf_config.get('qkv_bias')}."
        )
    image_size = hf_config["image_size"]
    patch_size = hf_config["patch_size"]
    return dict(
        image_size=tuple(image_size) if isinstance(image_size, (list, tuple)) else image_size,
        patch_size=patch_size[0] if isinstance(patch_size, (list, tuple)) else patch_size,
        num_channels=hf_config["num_channels"],
        hidden_dim=hf_config["hidden_size"],
        num_layers=hf_config["num_hidden_layers"],
        num_heads=hf_config["num_attention_heads"],
        mlp_dim=hf_config["intermediate_size"],
        decoder_hidden_dim=hf_config["decoder_hidden_size"],
        decoder_num_layers=hf_config["decoder_num_hidden_layers"],
        decoder_num_heads=hf_config["decoder_num_attention_heads"],
        decoder_mlp_dim=hf_config["decoder_intermediate_size"],
        mask_ratio=hf_config["mask_ratio"],
        norm_pix_loss=hf_config["norm_pix_loss"],
        layer_norm_epsilon=hf_config["layer_norm_eps"],
    )


def hf_config(arguments):
    """`transformers.ViTMAEConfig` keyword arguments of our (flat) constructor arguments, the
    inverse of `hf_arguments`: GELU, qkv biases and no dropout, as the paper's model.

    `mask_ratio`, `norm_pix_loss` and `layer_norm_epsilon` default to our constructors'
    defaults; arguments ViTMAE has no counterpart for (drop_path_rate, trainable_pos_embed,
    remat, seed) are left out.
    """
    image_size = arguments["image_size"]
    return dict(
        image_size=tuple(image_size) if isinstance(image_size, (list, tuple)) else image_size,
        patch_size=arguments["patch_size"],
        num_channels=arguments["num_channels"],
        hidden_size=arguments["hidden_dim"],
        num_hidden_layers=arguments["num_layers"],
        num_attention_heads=arguments["num_heads"],
        intermediate_size=arguments["mlp_dim"],
        decoder_hidden_size=arguments["decoder_hidden_dim"],
        decoder_num_hidden_layers=arguments["decoder_num_layers"],
        decoder_num_attention_heads=arguments["decoder_num_heads"],
        decoder_intermediate_size=arguments["decoder_mlp_dim"],
        mask_ratio=arguments.get("mask_ratio", 0.75),
        norm_pix_loss=arguments.get("norm_pix_loss", False),
        layer_norm_eps=arguments.get("layer_norm_epsilon", 1e-6),
        hidden_act="gelu",
        qkv_bias=True,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


def load_hf_checkpoint(path, preset=None, image_size=None, **overrides):
    """A HuggingFace ViTMAE checkpoint folder as a `MaskedAutoencoder`.

    The architecture, mask ratio, norm-pix setting and LayerNorm epsilon come from its
    `config.json`; `preset` and `overrides` replace them where given (the image size the
    weights were trained at excepted). A checkpoint of the encoder alone (`ViTMAEModel`) leaves
    the decoder freshly initialised.

    Args:
        path: a folder with a ViTMAE `config.json` and `model.safetensors` or
            `pytorch_model.bin` (or their sharded forms), as `save_pretrained` writes it.
        preset: a preset name whose architecture replaces the config's.
        image_size: an int or (height, width) to fit the position tables to (see
            `keras_mae.load`); None: the size the weights were trained at.
        **overrides: `MaskedAutoencoder` or `ViTBackbone` arguments, e.g. `norm_pix_loss`.

    Returns:
        A `MaskedAutoencoder` with the checkpoint's weights.

    Raises:
        InputError: the folder holds no ViTMAE checkpoint, or one that cannot be read.
    """
    folder = pathlib.Path(path)
    try:
        arguments = hf_arguments(_read_config(folder))
        own_size = arguments.pop("image_size")
        if preset:
            arguments.update({key: value for key, value in {
                **get_preset(preset)["backbone"], **get_preset(preset)["decoder"]}.items()
                if key != "image_size"})
        model = official.build_model(official_state(read_state(folder)), image_size=own_size,
                                     **{**arguments, **overrides})
    except InputError as error:
        raise InputError(f"{str(folder)!r}: {error}") from None
    return model if image_size is None else at_image_size(model, image_size)


def _read_config(folder):
    """The ViTMAE `config.json` of `folder` as a dict; another model type is refused."""
    config_file = folder / "config.json"
    if not config_file.exists():
        raise InputError("No config.json in it: pass the folder of a HuggingFace ViTMAE "
                         "checkpoint (config.json and model.safetensors).")
    try:
        config = json.loads(config_file.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"Its config.json is not JSON ({error}): expected the config.json "
                         "that save_pretrained writes.") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type != "vit_mae":
        raise InputError(f"It holds a {model_type!r} model, not a ViTMAE one (config.json's "
                         "model_type 'vit_mae'): pass a ViTMAE checkpoint folder.")
    missing = [key for key in _CONFIG_KEYS if key not in config]
    if missing:
        raise InputError(f"Its config.json lacks {', '.join(missing[:3])}: expected a ViTMAE "
                         "config.json as save_pretrained writes it.")
    return config
