"""What float16 loss scaling did in a step, for the step's logs.

Keras' `LossScaleOptimizer` leaves a step unapplied when its scaled gradients overflow and
halves its scale, silently: a run whose every step overflows trains nothing while its loss
looks normal. The scale only ever shrinks on such a skip (it doubles after 2,000 good steps),
so a skip is read off the scale itself, the same on every replica, with no extra all-reduce.
"""

import keras
import tensorflow as tf
from keras import ops


def current_scale(optimizer):
    """The loss scale `optimizer` holds now (a float32 tensor), or None where it scales
    nothing (an optimizer that is not a `LossScaleOptimizer`)."""
    if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return None
    return tf.identity(optimizer.dynamic_scale.value)  # a read now, not the variable


def skipped_by_scale(optimizer, scale_before, loss_finite):
    """1.0 where the loss was finite but the optimizer's scale shrank in this step, so that it
    skipped the update, else 0.0 (NaN/Inf losses are counted apart, as `skipped_steps`)."""
    shrank = ops.less(current_scale(optimizer), scale_before)
    return ops.cast(ops.logical_and(shrank, loss_finite), "float32")
