"""keras_mae: Masked Autoencoders (He et al., 2021) for Keras 3 on TensorFlow."""

from keras_mae.classifier import ViTClassifier
from keras_mae.decoder import MAEDecoder
from keras_mae.encoder import ViTEncoder
from keras_mae.model import MaskedAutoencoder
from keras_mae.presets import list_presets

__all__ = ["MAEDecoder", "MaskedAutoencoder", "ViTClassifier", "ViTEncoder", "list_presets"]
