"""Gradients summed over replicas before the optimizer accumulates, clips and applies them.

Keras 3's TensorFlow optimizer sums the replicas' gradients only in its last stage, after it has
clipped (`clipnorm`, `global_clipnorm`, `clipvalue`) each replica's share: the clipping
threshold then grows with the replica count (SGD lr 1, clip 0.5, gradient 2: one device moves
the weight by 0.5, two replicas by 1.0). Here the sum comes first, so the optimizer, its
gradient accumulation and its clipping see the global batch's gradient, as on one device (Keras
2 called this `experimental_aggregate_gradients=False`). Accumulators then hold the same sum on
every replica, so a backup taken between two updates restores every replica exactly.
"""

import tensorflow as tf

from keras_mae.private_api import strategy_supports_no_merge_call


def sum_over_replicas(gradients):
    """Each gradient summed over the replicas in sync (`None` stays `None`); unchanged outside
    a distributed step."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return gradients
    present = [g for g in gradients if g is not None]
    summed = iter(context.all_reduce(tf.distribute.ReduceOp.SUM, present))
    return [None if g is None else next(summed) for g in gradients]


def _as_given(grads_and_vars):
    """The optimizer's own all-reduce, made a no-op: its gradients are summed already."""
    return list(grads_and_vars)


def sum_before_clipping(optimizer):
    """Make `optimizer` (a Keras optimizer, or a `LossScaleOptimizer` around one) sum the
    replicas' gradients as `apply` receives them, then accumulate, clip and apply that sum
    without summing again. Set once per optimizer object, outside the step (replicas trace their
    steps in threads); every `compile` under `mixed_float16` wraps the same inner optimizer in a
    new `LossScaleOptimizer`, and the sum follows the newest wrapper."""
    if getattr(optimizer.apply, "sums_over_replicas", False):
        return
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if inner is not optimizer and getattr(inner.apply, "sums_over_replicas", False):
        inner.apply = inner.apply.unsummed  # compiled before without a wrapper: it sums now
    if inner.__dict__.get("_all_reduce_sum_gradients") is not _as_given:
        inner._all_reduce_sum_gradients = _as_given
        if inner.gradient_accumulation_steps:
            inner.apply = _accumulating_across_replicas(inner, inner.apply)
    apply = optimizer.apply

    def apply_summed(grads, trainable_variables=None):
        return apply(sum_over_replicas(list(grads)), trainable_variables)

    apply_summed.sums_over_replicas, apply_summed.unsummed = True, apply
    optimizer.apply = apply_summed


def _accumulating_across_replicas(optimizer, apply):
    """`apply` of an accumulating optimizer, made to work under strategies that synchronise
    through `merge_call` (MirroredStrategy and MultiWorkerMirroredStrategy, except on GPUs
    under XLA): Keras chooses between updating and accumulating in a replica's `cond`, where
    these cannot `merge_call`. The choice is taken in cross-replica context instead (as Keras'
    LossScaleOptimizer does), each branch's steps on every replica."""

    def apply_here(grads, trainable_variables=None):
        context = tf.distribute.get_replica_context()
        if (context is None or context.num_replicas_in_sync == 1
                or strategy_supports_no_merge_call()):
            return apply(grads, trainable_variables)
        variables = list(trainable_variables or optimizer._trainable_variables)
        context.merge_call(_choose_in_cross_replica_context,
                           args=(optimizer, list(grads), variables))

    return apply_here


def _choose_in_cross_replica_context(distribution, optimizer, grads, variables):
    """Update from the accumulated gradients on an update's last step, else accumulate, each
    branch on every replica: the steps of Keras' `_backend_apply_gradients` (weight constraints
    and EMA, which keras_mae's optimizers do not use, are left out)."""
    steps = optimizer.gradient_accumulation_steps
    accumulators = [optimizer._accumulated_gradients[optimizer._get_variable_index(v)]
                    for v in variables]

    def update_on_replica(grads):
        scale = optimizer.loss_scale_factor or 1.0
        grads = [(g / scale + a) / steps for g, a in zip(grads, accumulators)]
        grads = optimizer._clip_gradients(grads)
        optimizer._apply_weight_decay(variables)
        optimizer._backend_update_step(grads, variables, optimizer.learning_rate)
        optimizer._backend_reset_gradient_accumulators()
        optimizer._iterations.assign_add(1)

    def accumulate_on_replica(grads):
        scale = optimizer.loss_scale_factor or 1.0
        optimizer._backend_increment_gradient_accumulators(
            [g / scale for g in grads], accumulators)
        optimizer._iterations.assign_add(1)

    def on_every_replica(step):
        return lambda: distribution.extended.call_for_each_replica(step, args=(grads,))

    tf.cond((optimizer._iterations + 1) % steps == 0, on_every_replica(update_on_replica),
            on_every_replica(accumulate_on_replica))
