"""The paper's pretraining optimiser (appendix A.1): AdamW(0.9, 0.95), weight decay 0.05 not on
norms, biases or tokens, lr = base_lr x batch / 256, linear warmup then cosine decay per step."""

import keras


def scaled_learning_rate(base_lr, global_batch_size):
    """The linear scaling rule: lr = base_lr * global_batch / 256."""
    return base_lr * global_batch_size / 256


def warmup_cosine(peak_lr, total_steps, warmup_steps, min_lr=0.0):
    """Linear warmup from 0 to `peak_lr` over `warmup_steps`, then cosine down to `min_lr`."""
    warmup_steps = min(warmup_steps, total_steps)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(total_steps - warmup_steps, 1),
        alpha=min_lr / peak_lr if peak_lr else 0.0,
        warmup_target=peak_lr,
        warmup_steps=warmup_steps,
    )


def no_weight_decay_variables(model):
    """Norm scales and offsets, biases (every weight with <= 1 dim) and the cls/mask tokens."""
    return [
        v for v in model.trainable_variables
        if len(v.shape) <= 1 or v.name in ("cls_token", "mask_token")
    ]


def adamw(model, learning_rate, weight_decay=0.05, beta_1=0.9, beta_2=0.95):
    """AdamW over `model` with weight decay only on matrices and convolution kernels."""
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate, weight_decay=weight_decay, beta_1=beta_1, beta_2=beta_2
    )
    optimizer.exclude_from_weight_decay(var_list=no_weight_decay_variables(model))
    return optimizer
