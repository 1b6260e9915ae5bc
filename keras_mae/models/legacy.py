"""`.keras` files written before keras_mae 0.2, when the models declared the encoder's arguments
themselves (a flat config) and held it as `encoder`: read into today's classes, same weights."""

import json
import re
import tempfile
import zipfile

import h5py

from keras_mae.models.backbone import ViTBackbone
from keras_mae.models.classifier import ViTClassifier
from keras_mae.models.masked_autoencoder import MaskedAutoencoder

_BACKBONE_RENAMES = {"encoder_dim": "hidden_dim", "encoder_depth": "num_layers",
                     "encoder_heads": "num_heads", "encoder_mlp_dim": "mlp_dim"}
_DECODER_RENAMES = {"decoder_dim": "decoder_hidden_dim", "decoder_depth": "decoder_num_layers",
                    "decoder_heads": "decoder_num_heads", "decoder_mlp_dim": "decoder_mlp_dim"}
_BACKBONE_KEYS = ("image_size", "patch_size", "num_channels", "layer_norm_epsilon")
# Weight paths in the file: the encoder became the backbone (a Model, whose direct sublayers
# Keras files under "layers/<class name>"), the MLP a layer of its own.
_PATH_RENAMES = [
    (r"^encoder/patch_embed/", "backbone/layers/patch_embedding/"),
    (r"^encoder/norm/", "backbone/layers/layer_normalization/"),
    (r"^encoder/", "backbone/"),
    (r"/(fc[12])/", r"/mlp/\1/"),
]


def is_legacy(path):
    """Whether the `.keras` file at `path` holds a model of the flat, pre-backbone format."""
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    return config.get("class_name") in ("MaskedAutoencoder", "ViTClassifier") and (
        "backbone" not in config["config"])


def load_legacy(path):
    """The model in a legacy `.keras` file, as a `MaskedAutoencoder` or `ViTClassifier`."""
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        with tempfile.TemporaryDirectory() as folder:
            old_weights = archive.extract("model.weights.h5", folder)
            model = _model(config["class_name"], config["config"])
            new_weights = f"{folder}/new.weights.h5"
            model.save_weights(new_weights)
            with h5py.File(old_weights, "r") as old, h5py.File(new_weights, "r+") as new:
                old.visititems(lambda name, item: _copy(name, item, new))
            model.load_weights(new_weights)
    return model


def _model(class_name, config):
    backbone = {_BACKBONE_RENAMES.get(k, k): v for k, v in config.items()
                if k in _BACKBONE_RENAMES or k in _BACKBONE_KEYS}
    if class_name == "MaskedAutoencoder":
        return MaskedAutoencoder(
            ViTBackbone(**backbone, remat=config.get("remat", False), name="backbone"),
            **{_DECODER_RENAMES[k]: config[k] for k in _DECODER_RENAMES},
            mask_ratio=config["mask_ratio"], norm_pix_loss=config["norm_pix_loss"],
            seed=config["seed"], name=config["name"],
        )
    backbone = ViTBackbone(**backbone, drop_path_rate=config["drop_path_rate"],
                           trainable_pos_embed=True, name="backbone")
    return ViTClassifier(backbone, config["num_classes"], pooling=config["pooling"],
                         head_batch_norm=config["head_batch_norm"],
                         freeze_backbone=config["freeze_encoder"], name=config["name"])


def _copy(name, item, new):
    if not isinstance(item, h5py.Dataset):
        return
    for pattern, replacement in _PATH_RENAMES:
        name = re.sub(pattern, replacement, name)
    new[name][...] = item[...]
