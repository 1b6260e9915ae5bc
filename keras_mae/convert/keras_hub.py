"""keras-hub presets: the encoder as a `keras_hub.models.ViTBackbone` preset, and back.

    keras_mae.convert.to_keras_hub(model, "mae_vit_b", mean=(0.485, 0.456, 0.406),
                                   std=(0.229, 0.224, 0.225))
    keras_hub.models.ViTImageClassifier.from_preset("mae_vit_b", num_classes=10)
    keras_mae.load("mae_vit_b")  # a keras_mae ViTBackbone

The preset is written by keras-hub's own `save_to_preset`: the backbone (config and weights) and
a `ViTImageClassifierPreprocessor` whose image converter turns raw 0..255 images into the
model's inputs, (pixels / 255 - mean) / std, as scale 1 / (255 std) and offset -mean / std.
Weights map one to one: the fused qkv projection is split into keras-hub's per-head query, key
and value kernels [D, heads, D / heads], the output projection into [heads, D / heads, D], and
the 2-D sin-cos table (its cls row zero) is stored as keras-hub's learned position embedding.
keras-hub is optional (requirements-keras-hub.txt) and imported only here.
"""

import json
import pathlib

import numpy as np

from keras_mae.errors import InputError, MissingDependency

_INSTALL = "pip install -r requirements-keras-hub.txt (keras-hub==0.32.0)"
_EMBEDDING = "vit_patching_and_embedding"
_RENAMED = {  # keras_mae backbone weight -> keras-hub ViTBackbone weight, same array
    "cls_token": f"{_EMBEDDING}/class_token",
    "patch_embed/projection/kernel": f"{_EMBEDDING}/patch_embedding/kernel",
    "patch_embed/projection/bias": f"{_EMBEDDING}/patch_embedding/bias",
    "norm/gamma": "vit_encoder/ln/gamma",
    "norm/beta": "vit_encoder/ln/beta",
}
_BLOCK_RENAMED = {
    "norm1/gamma": "ln_1/gamma", "norm1/beta": "ln_1/beta",
    "norm2/gamma": "ln_2/gamma", "norm2/beta": "ln_2/beta",
    "mlp/fc1/kernel": "mlp/dense_1/kernel", "mlp/fc1/bias": "mlp/dense_1/bias",
    "mlp/fc2/kernel": "mlp/dense_2/kernel", "mlp/fc2/bias": "mlp/dense_2/bias",
}


def keras_hub_module():
    """`keras_hub`, or a one-line error saying how to install it."""
    try:
        import keras_hub
    except ImportError as error:
        raise MissingDependency(
            f"keras-hub presets need keras-hub, an optional dependency of keras_mae: {_INSTALL}."
        ) from error
    return keras_hub


def to_keras_hub(model_or_backbone, directory, mean, std):
    """Write the encoder of `model_or_backbone` as a keras-hub ViT preset in `directory`.

    Args:
        model_or_backbone: a `ViTBackbone`, a `MaskedAutoencoder` (its encoder), or a
            `ViTClassifier` with `pooling="cls"` (a `ViTImageClassifier` preset: encoder and
            head, the probe's BatchNorm folded into the head).
        directory: the preset folder to create (must not hold files yet).
        mean: the per-channel data mean (0..1) the model was trained with (one value, or
            one per channel), stored as the preset's image converter.
        std: the per-channel standard deviation (0..1), likewise.

    Returns:
        The `keras_hub.models.ViTBackbone` (or `ViTImageClassifier`) that was saved.
    """
    backbone = _exportable_backbone(model_or_backbone)
    if len(mean) not in (1, backbone.num_channels) or len(std) != len(mean):
        raise InputError(f"mean {tuple(mean)} and std {tuple(std)} must give one value, or one "
                         f"per channel of the model ({backbone.num_channels}).")
    directory = pathlib.Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise InputError(f"{directory} already holds files: write the preset to a new folder.")
    keras_hub = keras_hub_module()
    height, width = backbone.image_size
    hub = keras_hub.models.ViTBackbone(
        image_shape=(height, width, backbone.num_channels), patch_size=backbone.patch_size,
        num_layers=backbone.num_layers, num_heads=backbone.num_heads,
        hidden_dim=backbone.hidden_dim, mlp_dim=backbone.mlp_dim,
        layer_norm_epsilon=backbone.layer_norm_epsilon,
    )
    arrays = hub_arrays(_relative_arrays(backbone), backbone.num_heads)
    for weight in hub.weights:
        weight.assign(arrays.pop(weight.path))
    assert not arrays, f"keras_mae weights left without a keras-hub place: {sorted(arrays)}"
    converter = keras_hub.layers.ViTImageConverter(
        image_size=(height, width), interpolation="bicubic",
        scale=[1.0 / (255.0 * s) for s in std], offset=[-m / s for m, s in zip(mean, std)],
    )
    preprocessor = keras_hub.models.ViTImageClassifierPreprocessor(image_converter=converter)
    if not hasattr(model_or_backbone, "head"):  # a backbone or an MAE: the encoder alone
        hub.save_to_preset(str(directory))
        preprocessor.save_to_preset(str(directory))
        return hub
    classifier = keras_hub.models.ViTImageClassifier(
        hub, model_or_backbone.num_classes, preprocessor=preprocessor, pooling="token")
    classifier.output_dense.set_weights(_folded_head(model_or_backbone))
    classifier.save_to_preset(str(directory))
    return classifier


def from_keras_hub(directory, **overrides):
    """The keras-hub ViT preset in `directory` as a keras_mae `ViTBackbone`.

    keras-hub's learned position table is kept as the backbone's position table, fixed
    (`trainable_pos_embed=False`, as MAE pretraining holds it; fine-tuning makes it trainable).
    Biases the preset leaves out (`use_mha_bias=False`, ...) become zeros; dropout settings
    are not carried (keras_mae's encoder has none).

    Args:
        directory: a keras-hub ViT preset folder (`ViTBackbone` or `ViTImageClassifier`).
        **overrides: other `ViTBackbone` arguments (e.g. `drop_path_rate`).

    Returns:
        A keras_mae `ViTBackbone` with the preset's weights.

    Raises:
        InputError: the preset is no keras-hub ViT, has non-square patches or no class
            token, or `overrides` change the weights' shapes.
        MissingDependency: keras-hub is not installed.
    """
    from keras_mae.models.backbone import ViTBackbone

    config = _backbone_config(directory)
    patch = config["patch_size"]
    patch = patch if isinstance(patch, int) else tuple(patch)
    if not isinstance(patch, int) and patch[0] != patch[1]:
        raise InputError(f"The keras-hub preset {directory} has {patch[0]}x{patch[1]} patches: "
                         "keras_mae's encoder (as the MAE reference's patchify) takes square "
                         "patches only.")
    if not config.get("use_class_token", True):
        raise InputError(f"The keras-hub preset {directory} has no class token "
                         "(use_class_token=False): keras_mae's encoder, its probes and the MAE "
                         "decoder expect one.")
    height, width, channels = config["image_shape"]
    arguments = dict(
        image_size=(height, width), patch_size=patch if isinstance(patch, int) else patch[0],
        num_channels=channels, hidden_dim=config["hidden_dim"],
        num_layers=config["num_layers"], num_heads=config["num_heads"],
        mlp_dim=config["mlp_dim"], layer_norm_epsilon=config.get("layer_norm_epsilon", 1e-6),
    )
    hub = keras_hub_module().models.ViTBackbone.from_preset(str(directory))
    backbone = ViTBackbone(**{**arguments, **overrides, "name": "backbone"})
    hub_weights = {weight.path: weight.numpy() for weight in hub.weights}
    arrays = keras_mae_arrays(hub_weights, backbone.num_layers)
    for path, weight in _relative_weights(backbone).items():
        array = arrays.get(path)
        if array is None and path.endswith("bias"):  # a layer keras-hub built without bias
            array = np.zeros(weight.shape, np.float32)
        if array is None or tuple(array.shape) != tuple(weight.shape):
            raise InputError(
                f"Weight {path!r} has shape {tuple(weight.shape)} in the encoder but "
                f"{None if array is None else array.shape} in the keras-hub preset {directory}: "
                "drop the overrides that change the architecture."
            )
        weight.assign(array)
    return backbone


def is_keras_hub_preset(path):
    """Whether the folder `path` holds a keras-hub preset (its config.json names a keras_hub
    class), as opposed to a HuggingFace checkpoint."""
    config = pathlib.Path(path) / "config.json"
    if not config.is_file():
        return False
    try:
        return str(json.loads(config.read_text()).get("module", "")).startswith("keras_hub")
    except (ValueError, AttributeError):
        return False


def preset_normalization(path):
    """(mean, std) in 0..1 that the image converter of the keras-hub preset at `path` applies
    (scale s, offset o: mean = -o / s / 255, std = 1 / (255 s)), or None if it has none."""
    converter = pathlib.Path(path) / "image_converter.json"
    if not converter.is_file():
        return None
    config = json.loads(converter.read_text())["config"]
    scale = np.atleast_1d(np.asarray(
        1.0 if config.get("scale") is None else config["scale"], np.float64))
    offset = np.atleast_1d(np.asarray(
        0.0 if config.get("offset") is None else config["offset"], np.float64))
    scale, offset = np.broadcast_arrays(scale, offset)
    std = 1.0 / (255.0 * scale)
    return tuple(float(m) for m in -offset * std), tuple(float(s) for s in std)


def hub_arrays(arrays, num_heads):
    """keras_mae backbone arrays {path below the backbone: array} -> keras-hub ViTBackbone
    arrays {weight path: array}."""
    hidden = arrays["cls_token"].shape[-1]
    head_dim = hidden // num_heads
    hub = {_RENAMED[path]: arrays[path] for path in _RENAMED}
    hub[f"{_EMBEDDING}/position_embedding/embeddings"] = arrays["pos_embed"][0]
    for index in range(_count_blocks(arrays)):
        ours, theirs = f"block_{index}", f"vit_encoder/transformer_block_{index + 1}"
        for path, hub_path in _BLOCK_RENAMED.items():
            hub[f"{theirs}/{hub_path}"] = arrays[f"{ours}/{path}"]
        kernel = arrays[f"{ours}/attn/qkv/kernel"].reshape(hidden, 3, num_heads, head_dim)
        bias = arrays[f"{ours}/attn/qkv/bias"].reshape(3, num_heads, head_dim)
        for part, name in enumerate(("query", "key", "value")):
            hub[f"{theirs}/mha/{name}/kernel"] = kernel[:, part]
            hub[f"{theirs}/mha/{name}/bias"] = bias[part]
        hub[f"{theirs}/mha/attention_output/kernel"] = arrays[f"{ours}/attn/proj/kernel"].reshape(
            num_heads, head_dim, hidden)
        hub[f"{theirs}/mha/attention_output/bias"] = arrays[f"{ours}/attn/proj/bias"]
    return hub


def keras_mae_arrays(hub, num_layers):
    """The inverse of `hub_arrays`: keras-hub arrays -> keras_mae backbone arrays. Biases that
    keras-hub's layers were built without are absent from the result."""
    arrays = {path: hub[hub_path] for path, hub_path in _RENAMED.items() if hub_path in hub}
    arrays["pos_embed"] = hub[f"{_EMBEDDING}/position_embedding/embeddings"][None]
    hidden = arrays["cls_token"].shape[-1]
    for index in range(num_layers):
        ours, theirs = f"block_{index}", f"vit_encoder/transformer_block_{index + 1}"
        for path, hub_path in _BLOCK_RENAMED.items():
            if f"{theirs}/{hub_path}" in hub:
                arrays[f"{ours}/{path}"] = hub[f"{theirs}/{hub_path}"]
        parts = [f"{theirs}/mha/{name}" for name in ("query", "key", "value")]
        arrays[f"{ours}/attn/qkv/kernel"] = np.stack(
            [hub[f"{part}/kernel"] for part in parts], axis=1).reshape(hidden, 3 * hidden)
        if all(f"{part}/bias" in hub for part in parts):
            arrays[f"{ours}/attn/qkv/bias"] = np.stack(
                [hub[f"{part}/bias"] for part in parts]).reshape(3 * hidden)
        arrays[f"{ours}/attn/proj/kernel"] = hub[
            f"{theirs}/mha/attention_output/kernel"].reshape(hidden, hidden)
        if f"{theirs}/mha/attention_output/bias" in hub:
            arrays[f"{ours}/attn/proj/bias"] = hub[f"{theirs}/mha/attention_output/bias"]
    return arrays


def _folded_head(classifier):
    """[kernel, bias] of the classifier's head as one Dense on the cls token, the probe's
    BatchNorm (at inference (x - moving mean) / sqrt(moving variance + eps)) folded in."""
    kernel, bias = (weight.numpy() for weight in classifier.head.weights)
    if classifier.head_batch_norm:
        norm = classifier.head_norm
        scale = 1.0 / np.sqrt(norm.moving_variance.numpy() + norm.epsilon)
        bias = bias - (norm.moving_mean.numpy() * scale) @ kernel
        kernel = kernel * scale[:, None]
    return [kernel, bias]


def _count_blocks(arrays):
    return len({path.split("/")[0] for path in arrays if path.startswith("block_")})


def _relative_weights(backbone):
    """{path below the backbone: weight}, whatever the backbone is named."""
    return {weight.path.split(backbone.name + "/", 1)[-1]: weight for weight in backbone.weights}


def _relative_arrays(backbone):
    return {path: weight.numpy() for path, weight in _relative_weights(backbone).items()}


def _exportable_backbone(model):
    """The `ViTBackbone` of `model`, or a one-line refusal of what keras-hub cannot hold."""
    from keras_mae.models.backbone import ViTBackbone
    from keras_mae.models.classifier import ViTClassifier

    if isinstance(model, ViTClassifier) and model.pooling == "avg":
        raise InputError(
            "This classifier pools the patch tokens and normalises them with fc_norm (global "
            "pooling fine-tuning), leaving its encoder's final norm untrained: keras-hub's "
            "ViTBackbone always ends with that norm and its 'gap' pooling also averages the cls "
            "token. Export the pretrained MAE, or a classifier with pooling='cls'."
        )
    backbone = getattr(model, "backbone", model)
    if not isinstance(backbone, ViTBackbone):
        raise InputError(f"{type(model).__name__} is not a keras_mae ViTBackbone, "
                         "MaskedAutoencoder or ViTClassifier: nothing to export to keras-hub.")
    return backbone


def _backbone_config(directory):
    """The keras-hub backbone config of the preset in `directory`; a ViT's, or refused."""
    path = pathlib.Path(directory) / "config.json"
    config = json.loads(path.read_text())
    if config.get("class_name") != "ViTBackbone":
        raise InputError(f"The keras-hub preset {directory} holds a {config.get('class_name')}, "
                         "not a ViTBackbone: keras_mae reads keras-hub's ViT presets only.")
    return config["config"]
