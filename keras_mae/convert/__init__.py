"""The paper's released weights and HuggingFace ViTMAE checkpoints as Keras models.

`keras_mae.load` reads both by their form; these are its readers for each:

    model = keras_mae.convert.load_official_checkpoint("mae_pretrain_vit_base.pth")
    model = keras_mae.convert.load_hf_checkpoint("path/to/vit-mae-base")
"""

from keras_mae.convert.huggingface import load_hf_checkpoint
from keras_mae.convert.official import load_official_checkpoint

__all__ = ["load_hf_checkpoint", "load_official_checkpoint"]
