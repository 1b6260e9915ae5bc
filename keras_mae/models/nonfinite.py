"""Training steps whose loss is NaN or Inf leave the weights untouched, on every replica alike.

Keras' `TerminateOnNaN` stops only after such a step has updated the weights, and epoch-end
callbacks may still save them. Here the update is never applied; the caller counts the step and
decides whether to stop or go on (`config.nan_policy`).
"""

import keras
import tensorflow as tf
from keras import ops

from keras_mae.private_api import strategy_supports_no_merge_call


def finite_on_all_replicas(loss):
    """A bool scalar: the loss is finite on every replica (all-reduced, so replicas agree)."""
    nonfinite = ops.cast(ops.logical_not(ops.isfinite(loss)), "float32")
    context = tf.distribute.get_replica_context()
    if context is not None:
        nonfinite = context.all_reduce(tf.distribute.ReduceOp.SUM, nonfinite)
    return ops.equal(nonfinite, 0.0)


def apply_if(condition, optimizer, gradients, variables):
    """`optimizer.apply(gradients, variables)` only where `condition` (equal on all replicas)
    holds. Strategies that synchronise through `merge_call` cannot do so inside a replica's
    `cond`: there the branch is taken in cross-replica context, as Keras' LossScaleOptimizer does.
    """
    if strategy_supports_no_merge_call():
        ops.cond(condition, lambda: optimizer.apply(gradients, variables), lambda: None)
        return

    def cross_replica(distribution, condition, gradients):
        def apply():
            distribution.extended.call_for_each_replica(
                optimizer.apply, args=(gradients, variables)
            )

        tf.cond(distribution.experimental_local_results(condition)[0], apply, lambda: None)

    tf.distribute.get_replica_context().merge_call(cross_replica, args=(condition, gradients))


class SkippedSteps(keras.metrics.Metric):
    """Steps left unapplied since the last reset. Every replica counts every skipped step (the
    decision is the same on all of them), and reads give that count, in the step logs (which
    Keras averages over replicas) and outside the step (which `Sum` would add up)."""

    def __init__(self, name, **kwargs):
        super().__init__(name=name, **kwargs)
        self.count = self.add_variable(shape=(), initializer="zeros", name="count",
                                       aggregation="only_first_replica")

    def update_state(self, skipped):
        """Count this step: `skipped` is 1.0 (left unapplied) or 0.0, equal on every replica."""
        self.count.assign_add(ops.cast(skipped, self.count.dtype))

    def result(self):
        return ops.cast(self.count, self.dtype)
