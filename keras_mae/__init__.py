"""keras_mae: Masked Autoencoders (He et al., 2021) for Keras 3 on TensorFlow."""

from keras_mae import console

console.quiet_if_command_line()  # before anything imports TensorFlow

from keras_mae.loading import load
from keras_mae.models import MAEDecoder, MaskedAutoencoder, ViTBackbone, ViTClassifier
from keras_mae.models.presets import list_presets

__all__ = [
    "MAEDecoder", "MaskedAutoencoder", "ViTBackbone", "ViTClassifier", "list_presets", "load",
]
