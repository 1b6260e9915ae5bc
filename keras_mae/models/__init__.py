"""The models: the `ViTBackbone` and the tasks built on it (MAE pretraining, classification)."""

from keras_mae.models.backbone import ViTBackbone
from keras_mae.models.classifier import ViTClassifier
from keras_mae.models.decoder import MAEDecoder
from keras_mae.models.masked_autoencoder import MaskedAutoencoder
from keras_mae.models.presets import list_presets

__all__ = ["MAEDecoder", "MaskedAutoencoder", "ViTBackbone", "ViTClassifier", "list_presets"]
