"""Several training (or evaluation) steps per compiled call (`steps_per_execution`) that run
under every distribution strategy and end where the data ends.

Keras 3.15's own loop applies each step inside a `tf.cond`; under `MirroredStrategy` the
all-reduce in that branch fails ("You must feed a value for placeholder tensor",
keras-team/keras#19246). Here the steps run in the body of a `while` loop whose condition
holds the data's end, the only `tf.cond` left reading the next batch.
"""

import tensorflow as tf

from keras_mae.private_api import reduce_per_replica


def multi_step_function(model, step_function, steps):
    """iterator -> the logs of its next `steps` batches' steps (fewer where it ends), run by
    `step_function` on every replica of `model.distribute_strategy`, XLA-compiled per step as
    `model.jit_compile` says."""
    strategy = model.distribute_strategy

    @tf.function(jit_compile=model.jit_compile, reduce_retracing=True)
    def one_step(data):
        return reduce_per_replica(strategy.run(step_function, args=(data,)), strategy, "auto")

    @tf.function(reduce_retracing=True)
    def run_steps(iterator):
        logs = one_step(next(iterator))  # an execution starts where data is left
        done = tf.constant(1)
        batch = iterator.get_next_as_optional()
        while done < steps and batch.has_value():
            logs = one_step(batch.get_value())
            done += 1
            batch = tf.cond(done < steps, iterator.get_next_as_optional, lambda: batch)
        return logs

    return run_steps
