"""The paper's released weights and HuggingFace ViTMAE checkpoints as Keras models.

    model = keras_mae.convert.load_official_checkpoint("mae_pretrain_vit_base.pth")
    model = keras_mae.convert.load_hf_checkpoint("path/to/vit-mae-base")
"""

import pathlib

from keras_mae.convert.huggingface import load_hf_checkpoint
from keras_mae.convert.official import load_official_checkpoint
from keras_mae.errors import InputError


def load_checkpoint(path, preset=None, **overrides):
    """Either kind by its form: a folder is a HuggingFace checkpoint, a file an official one."""
    if not pathlib.Path(path).exists():
        raise InputError(f"Checkpoint {str(path)!r} does not exist. Pass an official .pth file "
                         "or the folder of a HuggingFace ViTMAE checkpoint.")
    loader = load_hf_checkpoint if pathlib.Path(path).is_dir() else load_official_checkpoint
    return loader(path, preset, **overrides)


__all__ = ["load_checkpoint", "load_hf_checkpoint", "load_official_checkpoint"]
