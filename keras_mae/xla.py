"""Where XLA compiles a training step: the whole step on one device; each replica's forward and
backward pass under `MirroredStrategy` and `MultiWorkerMirroredStrategy`; under `TPUStrategy`
nothing more than the TPU compiler itself.

An XLA computation runs on one device. Compiling a whole `strategy.run`, as Keras'
`compile(jit_compile=True)` does, makes one computation reach for every replica's variables and
fails at the first step ("Trying to access resource .../replica_1/... located in device CPU:1
from device CPU:0", keras-team/keras#19005, on GPUs too), and XLA has no CPU collectives. So
under those strategies each replica compiles its own forward and backward pass and the
all-reduce and the update run outside it, on every kind of device alike. TPUStrategy compiles
the replica function itself: an outer `jit_compile` is what TensorFlow's docs say not to add.
"""

import tensorflow as tf

WHOLE_STEP = "whole step"
PER_REPLICA = "per replica"
TPU_COMPILER = "TPU compiler"
OFF = "off"


def xla_scope(strategy, requested=True):
    """What XLA compiles of a step under `strategy`: `WHOLE_STEP` (one device), `PER_REPLICA`
    (each replica's forward and backward pass), `TPU_COMPILER` (the TPU's own), or `OFF` when
    not `requested`."""
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return TPU_COMPILER
    if not requested:
        return OFF
    if strategy.num_replicas_in_sync > 1 or isinstance(
            strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return PER_REPLICA
    return WHOLE_STEP


def on_each_replica(function, scope):
    """`function` XLA-compiled on the replica that calls it where `scope` is `PER_REPLICA`, else
    `function` itself (Keras compiles the whole step, the TPU compiler compiles it, or nothing
    does). It must take and return tensors only: no collective, no `merge_call` inside."""
    if scope == PER_REPLICA:
        return tf.function(function, jit_compile=True)
    return function


def cannot_compile(error):
    """Whether `error` is XLA refusing to compile a step (an op without an XLA kernel on this
    device, a dynamic shape it cannot bound), as TensorFlow reports it at the step's first run."""
    message = str(error)
    return isinstance(error, (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError,
                              tf.errors.InternalError)) and (
        "when trying to compile graph" in message or "is not compilable" in message
        or "XLA compilation" in message)


def compiled_features(model):
    """`model.features` as one `tf.function`, XLA-compiled wherever the model's steps use XLA
    on a GPU or a CPU: it runs on one device, outside `strategy.run`, as the k-NN monitor
    calls it between epochs."""
    scope = getattr(model, "xla", OFF)
    return tf.function(model.features, reduce_retracing=True,
                       jit_compile=scope in (WHOLE_STEP, PER_REPLICA))
