"""`MaskedAutoencoder`: the MAE pretraining model, a `keras.Model` trained with `model.fit`."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_mae.errors import InputError
from keras_mae.layers.initializers import token_init
from keras_mae.layers.masking import num_visible, random_masking
from keras_mae.layers.patching import patchify, unpatchify
from keras_mae.models.backbone import ViTBackbone
from keras_mae.models.decoder import MAEDecoder
from keras_mae.models.loss_scale import current_scale, skipped_by_scale
from keras_mae.models.losses import masked_mse, normalize_patches, patch_mean_and_scale
from keras_mae.models.nonfinite import SkippedSteps, apply_if, finite_on_all_replicas
from keras_mae.models.presets import preset_arguments
from keras_mae.models.task import Task
from keras_mae.optimizers import pretraining_adamw
from keras_mae.private_api import steps_taken


LOSS_ON = ("masked", "all")


@keras.saving.register_keras_serializable(package="keras_mae")
class MaskedAutoencoder(Task):
    """A `ViTBackbone` on the visible patches + a light decoder that predicts every patch's pixels.

    `model(images, noise=None)` on channels-last normalised images [B, H, W, C] returns
    `{"pred": [B, L, p*p*C], "mask": [B, L] (1 = removed), "ids_restore": [B, L]}`.
    Training batches may be `images`, `(images, labels)` (labels ignored) or
    `{"images": ..., "noise": [B, L]}`, whose noise fixes the masking.

    Args:
        backbone: the `ViTBackbone` to pretrain (serialised with the model).
        decoder_hidden_dim: the decoder's token width (the paper: 512).
        decoder_num_layers: the decoder's transformer blocks (the paper: 8).
        decoder_num_heads: the decoder's attention heads.
        decoder_mlp_dim: hidden width of the decoder blocks' MLPs.
        mask_ratio: fraction of patches removed per image, in [0, 1) (the paper: 0.75).
        norm_pix_loss: train against per-patch normalised pixels (the paper's default recipe).
        seed: seed of the masks (`None`: a random one).
        mask_token_in_encoder: BERT's (and BEiT's) design instead of MAE's, for the paper's
            ablation (table 1c): the encoder runs on all L patches, the removed ones replaced by
            a learned mask token (plus their positions), and the decoder adds no mask token.
        loss_on: "masked", the paper's loss on the removed patches only; or "all" patches.
    """

    def __init__(
        self,
        backbone,
        decoder_hidden_dim=512,
        decoder_num_layers=8,
        decoder_num_heads=16,
        decoder_mlp_dim=2048,
        mask_ratio=0.75,
        norm_pix_loss=False,
        seed=None,
        mask_token_in_encoder=False,
        loss_on="masked",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.decoder_hidden_dim = decoder_hidden_dim
        self.decoder_num_layers = decoder_num_layers
        self.decoder_num_heads = decoder_num_heads
        self.decoder_mlp_dim = decoder_mlp_dim
        self.mask_ratio = mask_ratio
        self.norm_pix_loss = norm_pix_loss
        self.seed = seed
        self.mask_token_in_encoder = mask_token_in_encoder
        if loss_on not in LOSS_ON:
            raise InputError(f"Unknown loss_on {loss_on!r}; use one of {', '.join(LOSS_ON)}.")
        self.loss_on = loss_on

        self.num_keep = num_visible(self.num_patches, mask_ratio)
        self.decoder = MAEDecoder(
            backbone.grid_size, decoder_hidden_dim, decoder_num_layers, decoder_num_heads,
            decoder_mlp_dim, self.patch_size**2 * self.num_channels,
            backbone.layer_norm_epsilon, remat=backbone.remat,
            fill_mask_tokens=not mask_token_in_encoder, name="decoder", dtype=self.dtype_policy,
        )
        self.seed_generator = keras.random.SeedGenerator(seed, name="mask_seed")
        self._step_seed = seed if seed is not None else int(np.random.randint(2**31 - 1))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.skipped_steps = SkippedSteps(name="skipped_steps")
        # Steps left unapplied by mixed_float16's loss scale (their gradients overflowed).
        self.loss_scale_skips = SkippedSteps(name="loss_scale_skips")
        # Whether a step with a NaN/Inf loss is left unapplied (set before `fit`). Off, such a
        # step is applied: the run is meant to stop before saving it (nan_policy "stop"). On,
        # XLA runs the update in a conditional, which costs a small model's step much of its speed.
        self.skip_nonfinite_steps = False
        self.build((None, *self.image_size, self.num_channels))

    @classmethod
    def from_preset(cls, name, **overrides):
        """A new, randomly initialised model of a preset.

        Args:
            name: a preset name (see `keras_mae.list_presets()`).
            **overrides: any `ViTBackbone` or `MaskedAutoencoder` argument, e.g.
                `image_size=(192, 256)` or `norm_pix_loss=True`.

        Returns:
            A `MaskedAutoencoder` on a `ViTBackbone` named "backbone".

        Raises:
            InputError: `name` is no preset (the message names the closest one).
        """
        backbone_arguments, arguments = preset_arguments(name, **overrides)
        return cls(ViTBackbone(**backbone_arguments, name="backbone"), **arguments)

    def build(self, input_shape):
        encoded = self.num_patches if self.mask_token_in_encoder else self.num_keep
        self.decoder.build((None, 1 + encoded, self.backbone.hidden_dim), (None, self.num_patches))
        if self.mask_token_in_encoder:
            self.encoder_mask_token = self.add_weight(
                shape=(1, 1, self.backbone.hidden_dim), initializer=token_init(),
                name="encoder_mask_token",
            )
        self.built = True

    def recipe_optimizer(self, learning_rate=None):
        """The paper's pretraining optimiser (appendix A.1): AdamW(0.9, 0.95), weight decay
        0.05 on matrices only, lr 1.5e-4 (the base lr: scale it by global batch / 256)."""
        return pretraining_adamw(self, 1.5e-4 if learning_rate is None else learning_rate)

    # --- forward --------------------------------------------------------------------------

    def call(self, images, noise=None, training=False):
        if noise is None:
            noise = self.sample_noise(ops.shape(images)[0])
        ids_keep, mask, ids_restore = random_masking(noise, self.num_keep)
        if self.mask_token_in_encoder:
            pred = self.decoder(self._encode_with_mask_tokens(images, mask, training))
        else:
            latent = self.backbone(images, keep_indices=ids_keep, training=training)
            pred = self.decoder(latent, ids_restore)
        return {"pred": pred, "mask": mask, "ids_restore": ids_restore}

    def _encode_with_mask_tokens(self, images, mask, training):
        """BERT's way: every patch token, the removed ones replaced by the encoder's mask
        token, with positions, through the encoder: [B, 1 + L, D]."""
        removed = ops.cast(mask[:, :, None], self.compute_dtype)
        positions = ops.cast(self.backbone.pos_embed, self.compute_dtype)[:, 1:]
        mask_token = ops.cast(self.encoder_mask_token, self.compute_dtype) + positions
        tokens = self.backbone.embed_patches(images) * (1.0 - removed) + mask_token * removed
        return self.backbone.encode_tokens(tokens, training=training)

    def encode(self, images):
        """Encoder tokens of the whole, unmasked image: [B, H, W, C] -> [B, 1 + L, D]."""
        return self.backbone(images)

    def features(self, images):
        """{"cls_token": [B, D], "pooled": [B, D] (mean patch token)} of the unmasked image."""
        return self.backbone.features(images)

    def reconstruct(self, images, noise=None):
        """Masked images and their reconstructions, in the space of `images` (normalised).

        With norm_pix_loss each predicted patch gets back the true patch's mean and std, as the
        reference's demo does.

        Args:
            images: [B, H, W, C] normalised images (cast to float32).
            noise: [B, L] masking noise (see `sample_noise`); None draws new masks.

        Returns:
            A dict of float32 tensors: "masked" [B, H, W, C], the input with removed patches
            zeroed; "reconstruction" [B, H, W, C], the prediction of every patch; "pasted"
            [B, H, W, C], the prediction at removed patches and the input at visible ones;
            "mask" [B, L], 1 where a patch was removed.
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
        """Uniform masking noise, different on every replica of a distributed step.

        Given the training `step`, the noise is a function of (seed, step, replica) alone, so a
        run resumed from a backup draws the masks the uninterrupted run would have drawn.

        Args:
            batch_size: B, an int or a scalar tensor.
            step: the training step (an int tensor), or None to draw from the model's seed
                generator.

        Returns:
            [B, L] float32 noise in [0, 1), for `model(images, noise=...)`.
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
        return unpatchify(patches, self.patch_size, self.grid_size, self.num_channels)

    def reconstruction_target(self, images):
        """What `pred` is trained to match: pixels per patch, normalised if norm_pix_loss."""
        target = self.patchify(ops.cast(images, "float32"))
        return normalize_patches(target) if self.norm_pix_loss else target

    def compute_masked_loss(self, images, outputs):
        """The MAE loss: MSE over the removed patches (or all, `loss_on="all"`).

        Args:
            images: the [B, H, W, C] normalised images `outputs` were computed from.
            outputs: the dict `model(images)` returned ("pred" and "mask" are read).

        Returns:
            The float32 scalar loss.
        """
        pred = ops.cast(outputs["pred"], "float32")
        mask = outputs["mask"] if self.loss_on == "masked" else ops.ones_like(outputs["mask"])
        return masked_mse(self.reconstruction_target(images), pred, mask)

    # --- training -------------------------------------------------------------------------

    @property
    def metrics(self):
        return [self.loss_tracker, self.skipped_steps, self.loss_scale_skips]

    def train_step(self, data):
        images, noise = _unpack_batch(data)
        if noise is None:
            noise = self.sample_noise(ops.shape(images)[0], step=steps_taken(self.optimizer))
        loss, gradients = self.on_each_replica(self._loss_and_gradients)(images, noise)
        # Steps with a NaN/Inf loss are counted in `skipped_steps` (per epoch), not averaged
        # into the loss; with `skip_nonfinite_steps` they also leave every weight as it was.
        finite = finite_on_all_replicas(loss)
        # Variables cannot be created under the control dependency below, nor read before
        # they exist (the loss scale): the optimizer is built first.
        if not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)
        scale_before = current_scale(self.optimizer)
        if self.skip_nonfinite_steps:
            apply_if(finite, self.optimizer, gradients, self.trainable_variables)
        else:  # The control dependency keeps graph mode from counting the step before its
            # batch is read (the step counter needs no data): a failed read applies nothing.
            with tf.control_dependencies([loss]):
                self.optimizer.apply(gradients, self.trainable_variables)
        self.loss_tracker.update_state(
            ops.where(finite, loss, 0.0), sample_weight=ops.cast(finite, "float32")
        )
        self.skipped_steps.update_state(1.0 - ops.cast(finite, "float32"))
        logs = {"loss": self.loss_tracker.result(), "lr": self.optimizer.learning_rate,
                "skipped_steps": self.skipped_steps.result()}
        if scale_before is not None:  # mixed_float16: what the loss scale did
            skipped = skipped_by_scale(self.optimizer, scale_before, finite)
            self.loss_scale_skips.update_state(skipped)
            logs.update(loss_scale=current_scale(self.optimizer),
                        loss_scale_skips=self.loss_scale_skips.result())
        return _step_logs(logs)

    def _loss_and_gradients(self, images, noise):
        """The step's forward and backward pass: (loss, gradients of the trainable variables)."""
        with tf.GradientTape() as tape:
            outputs = self(images, noise=noise, training=True)
            loss = self.compute_masked_loss(images, outputs)
            # Gradients are summed over replicas: scale as Keras' own compute_loss does.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled_loss = self.optimizer.scale_loss(loss / replicas)
        return loss, tape.gradient(scaled_loss, self.trainable_variables)

    def test_step(self, data):
        images, noise = _unpack_batch(data)
        self.loss_tracker.update_state(self.on_each_replica(self._held_out_loss)(images, noise))
        return _step_logs({"loss": self.loss_tracker.result()})

    def _held_out_loss(self, images, noise):
        return self.compute_masked_loss(images, self(images, noise=noise, training=False))

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras 3.15 builds a model before `evaluate` from its first batch reduced with
        `strategy.reduce`, which MultiWorkerMirroredStrategy cannot do on {"images", "noise"}
        batches (the held-out batches with fixed masks); a model that has trained is built."""
        strategy = self.distribute_strategy
        multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        if multi_worker and self.optimizer is not None and self.optimizer.built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def get_config(self):
        return {
            **super().get_config(),
            "decoder_hidden_dim": self.decoder_hidden_dim,
            "decoder_num_layers": self.decoder_num_layers,
            "decoder_num_heads": self.decoder_num_heads,
            "decoder_mlp_dim": self.decoder_mlp_dim,
            "mask_ratio": self.mask_ratio,
            "norm_pix_loss": self.norm_pix_loss,
            "seed": self.seed,
            "mask_token_in_encoder": self.mask_token_in_encoder,
            "loss_on": self.loss_on,
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
