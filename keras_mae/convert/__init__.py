"""The paper's released weights and HuggingFace ViTMAE checkpoints as Keras models, and the
encoder as a keras-hub ViT preset and back.

`keras_mae.load` reads all three by their form; these are its readers for each, and the writer:

    model = keras_mae.convert.load_official_checkpoint("mae_pretrain_vit_base.pth")
    model = keras_mae.convert.load_hf_checkpoint("path/to/vit-mae-base")
    backbone = keras_mae.convert.from_keras_hub("path/to/keras_hub_vit_preset")
    keras_mae.convert.to_keras_hub(model, "mae_preset", mean=..., std=...)
"""

from keras_mae.convert.huggingface import load_hf_checkpoint
from keras_mae.convert.keras_hub import from_keras_hub, to_keras_hub
from keras_mae.convert.official import load_official_checkpoint

__all__ = ["from_keras_hub", "load_hf_checkpoint", "load_official_checkpoint", "to_keras_hub"]
