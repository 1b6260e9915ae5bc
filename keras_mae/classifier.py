"""`ViTClassifier`: the pretrained encoder with a classification head, as the reference's
fine-tuned and linear-probed ViTs (facebookresearch/mae `models_vit.py`)."""

import keras
from keras import ops

from keras_mae.encoder import ViTEncoder, as_image_size
from keras_mae.errors import InputError
from keras_mae.presets import preset_config
from keras_mae.transformer import layer_norm

POOLINGS = ("avg", "cls")
ENCODER_ARGS = (
    "image_size", "patch_size", "num_channels", "encoder_dim", "encoder_depth",
    "encoder_heads", "encoder_mlp_dim", "layer_norm_epsilon",
)


@keras.saving.register_keras_serializable(package="keras_mae")
class ViTClassifier(keras.Model):
    """ViT encoder (every patch visible) + pooling + linear head: images [B, H, W, C] -> logits.

    `pooling="avg"` averages the patch tokens and normalises them (`fc_norm`), with no final
    encoder norm: the paper's fine-tuning recipe (the reference's `global_pool=True`).
    `pooling="cls"` takes the cls token after the encoder's final norm (ViT's default).
    `head_batch_norm=True` puts a BatchNorm without affine parameters before the head, as the
    reference's linear probing (after MoCo v3); `freeze_encoder=True` trains the head alone;
    `drop_path_rate` is the encoder's stochastic depth.
    """

    def __init__(
        self,
        num_classes,
        image_size=224,
        patch_size=16,
        num_channels=3,
        encoder_dim=768,
        encoder_depth=12,
        encoder_heads=12,
        encoder_mlp_dim=3072,
        pooling="avg",
        layer_norm_epsilon=1e-6,
        drop_path_rate=0.0,
        head_batch_norm=False,
        freeze_encoder=False,
        **kwargs,
    ):
        super().__init__(**{"name": "vit_classifier", **kwargs})
        if pooling not in POOLINGS:
            raise ValueError(f"Unknown pooling {pooling!r}; use one of {', '.join(POOLINGS)}.")
        self.num_classes = num_classes
        self.image_size = as_image_size(image_size)
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.encoder_dim = encoder_dim
        self.encoder_depth = encoder_depth
        self.encoder_heads = encoder_heads
        self.encoder_mlp_dim = encoder_mlp_dim
        self.pooling = pooling
        self.layer_norm_epsilon = layer_norm_epsilon
        self.drop_path_rate = drop_path_rate
        self.head_batch_norm = head_batch_norm
        self.freeze_encoder = freeze_encoder

        self.encoder = ViTEncoder(
            self.image_size, patch_size, num_channels, encoder_dim, encoder_depth,
            encoder_heads, encoder_mlp_dim, layer_norm_epsilon, final_norm=pooling == "cls",
            drop_path_rate=drop_path_rate, trainable_pos_embed=True, name="encoder",
            dtype=self.dtype_policy,
        )
        self.num_patches = self.encoder.num_patches
        self.fc_norm = (
            layer_norm(layer_norm_epsilon, "fc_norm", self.dtype_policy) if pooling == "avg" else None
        )
        self.head_norm = keras.layers.BatchNormalization(
            center=False, scale=False, epsilon=1e-6, name="head_norm", dtype=self.dtype_policy
        ) if head_batch_norm else None
        # The reference's head initialisations: std 0.01 for probing (MoCo v3), 2e-5 for fine-tuning.
        self.head = keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.01 if head_batch_norm else 2e-5),
            name="head", dtype=self.dtype_policy,
        )
        self.build((None, *self.image_size, num_channels))
        self.encoder.trainable = not freeze_encoder  # after build: it freezes existing weights

    @classmethod
    def from_preset(cls, name, num_classes, **overrides):
        """A new classifier with the encoder of MAE preset `name` (decoder settings are ignored)."""
        config = preset_config(name, **overrides)
        encoder_config = {key: config[key] for key in ENCODER_ARGS if key in config}
        extra = {key: value for key, value in overrides.items() if key not in ENCODER_ARGS}
        return cls(num_classes, **encoder_config, **extra)

    @classmethod
    def from_pretrained(cls, mae, num_classes, **kwargs):
        """A classifier whose encoder starts from a pretrained `MaskedAutoencoder`'s encoder;
        `kwargs` are the classifier's own arguments (pooling, drop_path_rate, ...)."""
        classifier = cls(num_classes, **{key: getattr(mae, key) for key in ENCODER_ARGS}, **kwargs)
        source = {w.path.split("/", 1)[1]: w for w in mae.encoder.weights}
        for weight in classifier.encoder.weights:
            name = weight.path.split("/", 1)[1]
            if name not in source:
                raise InputError(
                    f"The pretrained model has no weight '{name}' (a classifier fine-tuned with "
                    "another pooling?): start from an MAE checkpoint, or keep its pooling."
                )
            weight.assign(source[name])
        return classifier

    def build(self, input_shape):
        self.encoder.build(input_shape)
        for layer in (self.fc_norm, self.head_norm, self.head):
            if layer is not None:
                layer.build((None, self.encoder_dim))
        self.built = True

    def features(self, images, training=False):
        """{"cls_token": [B, D], "pooled": [B, D]}: the cls token and the pooled features."""
        tokens = self.encoder(images, training=training)
        if self.pooling == "avg":
            pooled = self.fc_norm(ops.mean(tokens[:, 1:], axis=1))
        else:
            pooled = tokens[:, 0]
        return {"cls_token": tokens[:, 0], "pooled": pooled}

    def call(self, images, training=False):
        pooled = self.features(images, training=training)["pooled"]
        if self.head_norm is not None:
            pooled = self.head_norm(pooled, training=training)
        return self.head(pooled)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "image_size": self.image_size,
            "patch_size": self.patch_size,
            "num_channels": self.num_channels,
            "encoder_dim": self.encoder_dim,
            "encoder_depth": self.encoder_depth,
            "encoder_heads": self.encoder_heads,
            "encoder_mlp_dim": self.encoder_mlp_dim,
            "pooling": self.pooling,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "drop_path_rate": self.drop_path_rate,
            "head_batch_norm": self.head_batch_norm,
            "freeze_encoder": self.freeze_encoder,
        }
