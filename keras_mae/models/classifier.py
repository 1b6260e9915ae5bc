"""`ViTClassifier`: a `ViTBackbone` with a classification head, as the reference's fine-tuned
and linear-probed ViTs (facebookresearch/mae `models_vit.py`)."""

import keras
import tensorflow as tf
from keras import ops

from keras_mae.errors import InputError
from keras_mae.layers.initializers import layer_norm
from keras_mae.models.backbone import ViTBackbone
from keras_mae.models.presets import preset_arguments
from keras_mae.models.task import Task
from keras_mae.optimizers import LARS, LayerDecayAdamW

POOLINGS = ("avg", "cls")


@keras.saving.register_keras_serializable(package="keras_mae")
class ViTClassifier(Task):
    """Backbone (every patch visible) + pooling + linear head: images [B, H, W, C] -> logits.

    Args:
        backbone: the `ViTBackbone` (shared, not copied: pass `backbone.clone()` to keep the
            original apart).
        num_classes: classes of the head.
        pooling: "avg" averages the patch tokens before the backbone's final norm and
            normalises them (`fc_norm`): the paper's fine-tuning (the reference's
            `global_pool=True`, which has no final norm: the backbone's is left untrained).
            "cls" takes the cls token after the final norm (ViT's default).
        head_batch_norm: a BatchNorm without affine parameters before the head, as the
            reference's linear probing (after MoCo v3): `BatchNorm1d(affine=False, eps=1e-6)`,
            whose PyTorch momentum 0.1 is Keras' 0.9.
        freeze_backbone: train the head alone (linear probing).
    """

    def __init__(self, backbone, num_classes, pooling="avg", head_batch_norm=False,
                 freeze_backbone=False, **kwargs):
        super().__init__(**{"name": "vit_classifier", **kwargs})
        if pooling not in POOLINGS:
            raise InputError(f"Unknown pooling {pooling!r}; use one of {', '.join(POOLINGS)}.")
        self.backbone = backbone
        self.num_classes = num_classes
        self.pooling = pooling
        self.head_batch_norm = head_batch_norm
        self.freeze_backbone = freeze_backbone

        width = backbone.hidden_dim
        self.fc_norm = (
            layer_norm(backbone.layer_norm_epsilon, "fc_norm", self.dtype_policy)
            if pooling == "avg" else keras.layers.Identity(name="fc_norm")
        )
        self.head_norm = keras.layers.BatchNormalization(
            momentum=0.9, center=False, scale=False, epsilon=1e-6, name="head_norm",
            dtype=self.dtype_policy
        ) if head_batch_norm else keras.layers.Identity(name="head_norm")
        # The reference's head initialisations: std 0.01 for probing (MoCo v3), 2e-5 for fine-tuning.
        self.head = keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=0.01 if head_batch_norm else 2e-5),
            name="head", dtype=self.dtype_policy,
        )
        for layer in (self.fc_norm, self.head_norm, self.head):
            layer.build((None, width))
        self.built = True
        backbone.trainable = not freeze_backbone
        if pooling == "avg":  # unused: the pooled tokens are normalised by fc_norm instead
            backbone.norm.trainable = False

    @classmethod
    def from_preset(cls, name, num_classes, **overrides):
        """A new, randomly initialised classifier with the backbone of an MAE preset.

        Args:
            name: a preset name (see `keras_mae.list_presets()`); its decoder settings are
                ignored.
            num_classes: classes of the head.
            **overrides: `ViTBackbone` arguments (e.g. `drop_path_rate=0.1`) and `pooling`,
                `head_batch_norm`, `freeze_backbone`.

        Returns:
            A `ViTClassifier` on a `ViTBackbone` named "backbone".
        """
        backbone_arguments, arguments = preset_arguments(name, **overrides)
        own = {key: arguments[key] for key in ("pooling", "head_batch_norm", "freeze_backbone")
               if key in arguments}
        return cls(ViTBackbone(**backbone_arguments, name="backbone"), num_classes, **own)

    def recipe_optimizer(self, learning_rate=None):
        """The paper's optimiser for this classifier: LARS, lr 0.1, no weight decay, for a
        frozen backbone (linear probing, appendix A.3); else AdamW with layer-wise lr decay 0.65
        and weight decay 0.05, lr 5e-4 (fine-tuning, A.2). Base lrs: scale by batch / 256."""
        if self.freeze_backbone:
            return LARS(0.1 if learning_rate is None else learning_rate)
        return LayerDecayAdamW(5e-4 if learning_rate is None else learning_rate,
                               num_layers=self.backbone.num_layers, layer_decay=0.65,
                               weight_decay=0.05)

    def features(self, images, training=False):
        """The features the head reads, and the cls token.

        Args:
            images: [B, H, W, C] normalised images.
            training: run the backbone in training mode (drop path).

        Returns:
            {"cls_token": [B, D], "pooled": [B, D]}: "pooled" is the mean patch token through
            `fc_norm` (`pooling="avg"`) or the normalised cls token (`pooling="cls"`).
        """
        if self.pooling == "avg":
            tokens = self.backbone(images, final_norm=False, training=training)
            pooled = self.fc_norm(ops.mean(tokens[:, 1:], axis=1))
        else:
            tokens = self.backbone(images, training=training)
            pooled = tokens[:, 0]
        return {"cls_token": tokens[:, 0], "pooled": pooled}

    def call(self, images, training=False):
        return self.logits(self.features(images, training=training)["pooled"], training=training)

    def logits(self, pooled, training=False):
        """[B, classes] class scores of pooled features [B, D] (what `call` ends with)."""
        return self.head(self.head_norm(pooled, training=training))

    def train_step(self, data):
        """Keras' training step, its forward and backward pass compiled on each replica where
        the step is distributed (`Task.on_each_replica`)."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        loss, y_pred, gradients = self.on_each_replica(self._loss_and_gradients)(
            x, y, sample_weight)
        self._track_loss(loss, x)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data):
        """Keras' evaluation step, its forward pass compiled as `train_step`'s."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        loss, y_pred = self.on_each_replica(self._loss_and_predictions)(x, y, sample_weight)
        self._track_loss(loss, x)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _loss_and_gradients(self, x, y, sample_weight):
        """(loss scaled for the replicas' sum, logits, gradients of the trainable variables)."""
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=True)
            scaled_loss = self.optimizer.scale_loss(loss)
        return loss, y_pred, tape.gradient(scaled_loss, self.trainable_variables)

    def _loss_and_predictions(self, x, y, sample_weight):
        y_pred = self(x, training=False)
        return self.compute_loss(x, y, y_pred, sample_weight, training=False), y_pred

    def _track_loss(self, loss, x):
        """Keras' loss metric, as its own steps update it: the replica's mean loss (`compute_loss`
        divides by the replica count, for the gradients' sum), weighted by its batch size."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self._loss_tracker.update_state(loss * replicas, sample_weight=tf.shape(x)[0])

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "pooling": self.pooling,
            "head_batch_norm": self.head_batch_norm,
            "freeze_backbone": self.freeze_backbone,
        }
