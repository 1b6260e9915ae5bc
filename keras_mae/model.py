"""`MaskedAutoencoder`: the MAE pretraining model, a `keras.Model` trained with `model.fit`."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_mae.decoder import MAEDecoder
from keras_mae.encoder import ViTEncoder, as_image_size
from keras_mae.losses import masked_mse, normalize_patches, patch_mean_and_scale
from keras_mae.masking import num_visible, random_masking
from keras_mae.nonfinite import apply_if, finite_on_all_replicas
from keras_mae.patching import patchify, unpatchify
from keras_mae.presets import preset_config


@keras.saving.register_keras_serializable(package="keras_mae")
class MaskedAutoencoder(keras.Model):
    """ViT encoder on the visible patches + light decoder that predicts every patch's pixels.

    `model(images, noise=None)` on channels-last normalised images [B, H, W, C] returns
    `{"pred": [B, L, p*p*C], "mask": [B, L] (1 = removed), "ids_restore": [B, L]}`.
    Training batches may be `images`, `(images, labels)` (labels ignored) or
    `{"images": ..., "noise": [B, L]}`, whose noise fixes the masking.

    `remat=True` recomputes every transformer block's activations in the backward pass instead
    of keeping them: the same gradients for less memory and ~25% more time per step
    (bench/README.md has the figures).
    """

    def __init__(
        self,
        image_size=224,
        patch_size=16,
        num_channels=3,
        encoder_dim=768,
        encoder_depth=12,
        encoder_heads=12,
        encoder_mlp_dim=3072,
        decoder_dim=512,
        decoder_depth=8,
        decoder_heads=16,
        decoder_mlp_dim=2048,
        mask_ratio=0.75,
        norm_pix_loss=False,
        layer_norm_epsilon=1e-6,
        seed=None,
        remat=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_size = as_image_size(image_size)
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.encoder_dim = encoder_dim
        self.encoder_depth = encoder_depth
        self.encoder_heads = encoder_heads
        self.encoder_mlp_dim = encoder_mlp_dim
        self.decoder_dim = decoder_dim
        self.decoder_depth = decoder_depth
        self.decoder_heads = decoder_heads
        self.decoder_mlp_dim = decoder_mlp_dim
        self.mask_ratio = mask_ratio
        self.norm_pix_loss = norm_pix_loss
        self.layer_norm_epsilon = layer_norm_epsilon
        self.seed = seed
        self.remat = remat

        self.encoder = ViTEncoder(
            self.image_size, patch_size, num_channels, encoder_dim, encoder_depth,
            encoder_heads, encoder_mlp_dim, layer_norm_epsilon, remat=remat,
            name="encoder", dtype=self.dtype_policy,
        )
        self.num_patches = self.encoder.num_patches
        self.num_keep = num_visible(self.num_patches, mask_ratio)
        self.decoder = MAEDecoder(
            self.encoder.grid_size, decoder_dim, decoder_depth, decoder_heads, decoder_mlp_dim,
            patch_size * patch_size * num_channels, layer_norm_epsilon, remat=remat,
            name="decoder", dtype=self.dtype_policy,
        )
        self.seed_generator = keras.random.SeedGenerator(seed, name="mask_seed")
        self._step_seed = seed if seed is not None else int(np.random.randint(2**31 - 1))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.skipped_steps = keras.metrics.Sum(name="skipped_steps")
        # Whether a step with a NaN/Inf loss is left unapplied (set before `fit`). Off, such a
        # step is applied: the run is meant to stop before saving it (nan_policy "stop"). On,
        # XLA runs the update in a conditional, which costs ~30% of a small model's step.
        self.skip_nonfinite_steps = False
        self.build((None, *self.image_size, num_channels))

    @classmethod
    def from_preset(cls, name, **overrides):
        """A new, randomly initialised model of preset `name`; see `keras_mae.list_presets()`."""
        return cls(**preset_config(name, **overrides))

    def build(self, input_shape):
        self.encoder.build(input_shape)
        self.decoder.build(
            (None, 1 + self.num_keep, self.encoder_dim), (None, self.num_patches)
        )
        self.built = True

    # --- forward --------------------------------------------------------------------------

    def call(self, images, noise=None, training=False):
        if noise is None:
            noise = self.sample_noise(ops.shape(images)[0])
        ids_keep, mask, ids_restore = random_masking(noise, self.num_keep)
        latent = self.encoder(images, keep_indices=ids_keep)
        pred = self.decoder(latent, ids_restore)
        return {"pred": pred, "mask": mask, "ids_restore": ids_restore}

    def encode(self, images):
        """Encoder tokens of the whole, unmasked image: [B, H, W, C] -> [B, 1 + L, D]."""
        return self.encoder(images)

    def features(self, images):
        """{"cls_token": [B, D], "pooled": [B, D] (mean patch token)} of the unmasked image."""
        tokens = self.encode(images)
        return {"cls_token": tokens[:, 0], "pooled": ops.mean(tokens[:, 1:], axis=1)}

    def reconstruct(self, images, noise=None):
        """Masked images and their reconstructions, in the space of `images` (normalised).

        Returns {"masked", "reconstruction", "pasted": [B, H, W, C], "mask": [B, L]}: the input
        with removed patches zeroed, the prediction of every patch, and the prediction at removed
        patches with the input at visible ones. With norm_pix_loss each predicted patch gets back
        the true patch's mean and std, as the reference's demo does.
        """
        images = ops.cast(images, "float32")
        outputs = self(images, noise=noise, training=False)
        patches = self.patchify(images)
        pred = ops.cast(outputs["pred"], "float32")
        if self.norm_pix_loss:
            mean, scale = patch_mean_and_scale(patches)
            pred = pred * scale + mean
        mask = outputs["mask"][:, :, None]
        return {
            "masked": self.unpatchify(patches * (1.0 - mask)),
            "reconstruction": self.unpatchify(pred),
            "pasted": self.unpatchify(patches * (1.0 - mask) + pred * mask),
            "mask": outputs["mask"],
        }

    def sample_noise(self, batch_size, step=None):
        """Uniform masking noise [B, L], different on every replica of a distributed step.

        Given the training `step`, the noise is a function of (seed, step, replica) alone, so a
        run resumed from a backup draws the masks the uninterrupted run would have drawn.
        """
        if step is None:
            seed = ops.cast(self.seed_generator.next(), "int32")
        else:
            seed = tf.random.experimental.stateless_fold_in(
                [self._step_seed, 0], ops.cast(step, "int32"), alg="philox"
            )
        context = tf.distribute.get_replica_context()
        if context is not None:
            seed = tf.random.experimental.stateless_fold_in(
                seed, context.replica_id_in_sync_group, alg="philox"
            )
        return tf.random.stateless_uniform(
            (batch_size, self.num_patches), seed=seed, alg="philox"
        )

    # --- loss -----------------------------------------------------------------------------

    def patchify(self, images):
        """[B, H, W, C] -> [B, L, p*p*C]."""
        return patchify(images, self.patch_size)

    def unpatchify(self, patches):
        """[B, L, p*p*C] -> [B, H, W, C]."""
        return unpatchify(patches, self.patch_size, self.encoder.grid_size, self.num_channels)

    def reconstruction_target(self, images):
        """What `pred` is trained to match: pixels per patch, normalised if norm_pix_loss."""
        target = self.patchify(ops.cast(images, "float32"))
        return normalize_patches(target) if self.norm_pix_loss else target

    def compute_masked_loss(self, images, outputs):
        """The scalar MAE loss: MSE over removed patches only, in float32."""
        pred = ops.cast(outputs["pred"], "float32")
        return masked_mse(self.reconstruction_target(images), pred, outputs["mask"])

    # --- training -------------------------------------------------------------------------

    @property
    def metrics(self):
        return [self.loss_tracker, self.skipped_steps]

    def train_step(self, data):
        images, noise = _unpack_batch(data)
        if noise is None:
            noise = self.sample_noise(ops.shape(images)[0], step=self.optimizer.iterations)
        with tf.GradientTape() as tape:
            outputs = self(images, noise=noise, training=True)
            loss = self.compute_masked_loss(images, outputs)
            # Gradients are summed over replicas: scale as Keras' own compute_loss does.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled_loss = self.optimizer.scale_loss(loss / replicas)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        # Steps with a NaN/Inf loss are counted in `skipped_steps` (per epoch), not averaged
        # into the loss; with `skip_nonfinite_steps` they also leave every weight as it was.
        finite = finite_on_all_replicas(loss)
        if self.skip_nonfinite_steps:
            apply_if(finite, self.optimizer, gradients, self.trainable_variables)
        else:  # The control dependency keeps graph mode from counting the step before its
            # batch is read (the step counter needs no data): a failed read applies nothing.
            # Variables cannot be created under it, so the optimizer is built first.
            if not self.optimizer.built:
                self.optimizer.build(self.trainable_variables)
            with tf.control_dependencies([loss]):
                self.optimizer.apply(gradients, self.trainable_variables)
        self.loss_tracker.update_state(
            ops.where(finite, loss, 0.0), sample_weight=ops.cast(finite, "float32")
        )
        self.skipped_steps.update_state((1.0 - ops.cast(finite, "float32")) / replicas)
        return _step_logs({"loss": self.loss_tracker.result(), "lr": self.optimizer.learning_rate})

    def test_step(self, data):
        images, noise = _unpack_batch(data)
        outputs = self(images, noise=noise, training=False)
        self.loss_tracker.update_state(self.compute_masked_loss(images, outputs))
        return _step_logs({"loss": self.loss_tracker.result()})

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "patch_size": self.patch_size,
            "num_channels": self.num_channels,
            "encoder_dim": self.encoder_dim,
            "encoder_depth": self.encoder_depth,
            "encoder_heads": self.encoder_heads,
            "encoder_mlp_dim": self.encoder_mlp_dim,
            "decoder_dim": self.decoder_dim,
            "decoder_depth": self.decoder_depth,
            "decoder_heads": self.decoder_heads,
            "decoder_mlp_dim": self.decoder_mlp_dim,
            "mask_ratio": self.mask_ratio,
            "norm_pix_loss": self.norm_pix_loss,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "seed": self.seed,
            "remat": self.remat,
        }


def _step_logs(logs):
    """Under MultiWorkerMirroredStrategy Keras 3.15 averages step logs along axis 0, which
    scalars lack (tensorflow#72388): give them that axis there."""
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        return {name: ops.reshape(value, (1,)) for name, value in logs.items()}
    return logs


def _unpack_batch(data):
    """images | (images, labels) | {"images", "noise"} -> (images, noise or None)."""
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    if isinstance(x, dict):
        return x["images"], x.get("noise")
    return x, None
