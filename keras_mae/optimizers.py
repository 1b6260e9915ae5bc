"""The paper's optimisers and learning-rate schedule: AdamW(0.9, 0.95) for pretraining
(appendix A.1), AdamW with layer-wise learning-rate decay for fine-tuning (A.2, after BEiT),
LARS for linear probing (A.3, after MoCo v3); lr = base_lr x batch / 256, linear warmup, then
cosine decay per step."""

import keras
from keras import ops


def scaled_learning_rate(base_lr, global_batch_size):
    """The linear scaling rule: lr = base_lr * global_batch / 256.

    Args:
        base_lr: the paper's base learning rate (e.g. 1.5e-4 for pretraining).
        global_batch_size: the batch of one update over all replicas (and accumulated steps).

    Returns:
        The float learning rate.
    """
    return base_lr * global_batch_size / 256


def warmup_cosine(peak_lr, total_steps, warmup_steps, min_lr=0.0):
    """Linear warmup from 0 to `peak_lr` over `warmup_steps`, then cosine down to `min_lr`.

    Args:
        peak_lr: the learning rate at the end of the warmup.
        total_steps: the steps of the whole run, warmup included.
        warmup_steps: the warmup's steps (at most `total_steps`).
        min_lr: the learning rate at the last step.

    Returns:
        A `keras.optimizers.schedules.CosineDecay` of the step.
    """
    warmup_steps = min(warmup_steps, total_steps)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(total_steps - warmup_steps, 1),
        alpha=min_lr / peak_lr if peak_lr else 0.0,
        warmup_target=peak_lr,
        warmup_steps=warmup_steps,
    )


@keras.saving.register_keras_serializable(package="keras_mae")
class PerUpdate(keras.optimizers.schedules.LearningRateSchedule):
    """`schedule` held for each update of gradient accumulation: the lr of every step of an
    update is the lr of its first step, as the reference sets it every `accum_iter` steps.
    (Keras' accumulating optimizers evaluate their schedule at the step count.)

    Args:
        schedule: a `LearningRateSchedule` of the step.
        accumulation_steps: the steps of one update (`gradient_accumulation_steps`).
    """

    def __init__(self, schedule, accumulation_steps):
        self.schedule = schedule
        self.accumulation_steps = accumulation_steps

    def __call__(self, step):
        return self.schedule(step // self.accumulation_steps * self.accumulation_steps)

    def get_config(self):
        return {"schedule": keras.saving.serialize_keras_object(self.schedule),
                "accumulation_steps": self.accumulation_steps}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(**config)


def no_weight_decay_variables(model):
    """The variables pretraining does not decay: norm scales and offsets and biases, every
    trainable weight with <= 1 dim. As the reference's pretraining (timm's `add_weight_decay`
    without a skip list), the cls and mask tokens ([1, 1, D]) are decayed.

    Args:
        model: a built Keras model.

    Returns:
        A list of `model`'s trainable variables.
    """
    return [v for v in model.trainable_variables if len(v.shape) <= 1]


def pretraining_adamw(model, learning_rate, weight_decay=0.05, beta_1=0.9, beta_2=0.95,
                      **kwargs):
    """The paper's pretraining optimiser: AdamW with weight decay only on matrices and
    convolution kernels (appendix A.1).

    Args:
        model: the built model whose variables it will train.
        learning_rate: a float or a schedule (the paper: 1.5e-4 x batch / 256).
        weight_decay: decoupled weight decay (the paper: 0.05).
        beta_1: Adam's first-moment decay (the paper: 0.9).
        beta_2: Adam's second-moment decay (the paper: 0.95).
        **kwargs: Keras' optimizer arguments, e.g. `gradient_accumulation_steps`,
            `global_clipnorm`.

    Returns:
        A `keras.optimizers.AdamW`.
    """
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate, weight_decay=weight_decay, beta_1=beta_1, beta_2=beta_2,
        **kwargs,
    )
    optimizer.exclude_from_weight_decay(var_list=no_weight_decay_variables(model))
    return optimizer


def vit_layer_id(path, num_layers):
    """The reference's layer index of a classifier weight: 0 for the embeddings (patch, cls token,
    positions), i + 1 for block i, num_layers + 1 for what follows the blocks (norms, head).

    Args:
        path: the weight's Keras path (`variable.path`): a "block_<i>" part names its block.
        num_layers: the backbone's transformer blocks.

    Returns:
        The int layer index, 0..num_layers + 1.
    """
    parts = path.split("/")
    for part in parts:
        if part.startswith("block_"):
            return int(part[len("block_"):]) + 1
    if {"cls_token", "pos_embed", "patch_embed"} & set(parts):
        return 0
    return num_layers + 1


@keras.saving.register_keras_serializable(package="keras_mae")
class LayerDecayAdamW(keras.optimizers.Adam):
    """AdamW whose learning rate shrinks by `layer_decay` per layer from the head down: a weight of
    layer i (see `vit_layer_id`) of a ViT with D blocks trains at lr * layer_decay ** (D + 1 - i).

    Weight decay, decoupled and scaled by that learning rate as PyTorch's AdamW does, spares
    1-D weights (norms, biases) and the cls token and position table, as the reference.

    Args:
        learning_rate: the head's learning rate (a float or a schedule).
        num_layers: the backbone's transformer blocks.
        layer_decay: lr factor per layer from the head down (the paper: 0.65 ViT-B, 0.75 L/H).
        weight_decay: decoupled weight decay (the paper: 0.05).
        beta_1: Adam's first-moment decay.
        beta_2: Adam's second-moment decay.
        epsilon: Adam's epsilon.
        **kwargs: Keras' optimizer arguments, e.g. `global_clipnorm`.
    """

    def __init__(self, learning_rate, num_layers, layer_decay=0.75, weight_decay=0.05,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, **kwargs)
        self.num_layers = num_layers
        self.layer_decay = layer_decay
        self.decay_rate = weight_decay

    def build(self, var_list):
        super().build(var_list)
        self._lr_scales = [
            self.layer_decay ** (self.num_layers + 1 - vit_layer_id(v.path, self.num_layers))
            for v in var_list
        ]
        self._decays = [
            len(v.shape) > 1 and v.name not in ("cls_token", "pos_embed") for v in var_list
        ]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        lr = ops.cast(learning_rate, variable.dtype) * self._lr_scales[index]
        if self._decays[index] and self.decay_rate:
            self.assign_sub(variable, variable * (lr * self.decay_rate))
        super().update_step(gradient, variable, lr)

    def get_config(self):
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "layer_decay": self.layer_decay,
            "weight_decay": self.decay_rate,
        }


@keras.saving.register_keras_serializable(package="keras_mae")
class LARS(keras.optimizers.Optimizer):
    """SGD with momentum whose update of every matrix is rescaled to `trust_coefficient` times the
    weight's norm (layer-wise adaptive rate scaling); 1-D weights get neither that scaling nor
    weight decay. The reference's linear-probing optimiser (MoCo v3's form).

    Args:
        learning_rate: a float or a schedule (the paper: 0.1 x batch / 256).
        weight_decay: L2 decay added to each matrix's update (the paper's probing: 0).
        momentum: SGD momentum.
        trust_coefficient: the update's norm as a share of the weight's norm.
        **kwargs: Keras' optimizer arguments, e.g. `gradient_accumulation_steps`.
    """

    def __init__(self, learning_rate, weight_decay=0.0, momentum=0.9, trust_coefficient=0.001,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.decay_rate = weight_decay
        self.momentum = momentum
        self.trust_coefficient = trust_coefficient

    def build(self, var_list):
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        update = ops.cast(gradient, variable.dtype)
        if len(variable.shape) > 1:
            update = update + self.decay_rate * variable
            weight_norm = ops.sqrt(ops.sum(ops.square(variable)))
            update_norm = ops.sqrt(ops.sum(ops.square(update)))
            trust = ops.where(
                (weight_norm > 0) & (update_norm > 0),
                self.trust_coefficient * weight_norm / ops.maximum(update_norm, 1e-30),
                1.0,
            )
            update = update * trust
        momentum = self._momentums[self._get_variable_index(variable)]
        self.assign(momentum, momentum * self.momentum + update)
        self.assign_sub(variable, lr * momentum)

    def get_config(self):
        return {
            **super().get_config(),
            "weight_decay": self.decay_rate,
            "momentum": self.momentum,
            "trust_coefficient": self.trust_coefficient,
        }
