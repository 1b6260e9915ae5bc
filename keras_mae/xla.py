"""Where XLA can compile a training step: everywhere but where TensorFlow 2.21 cannot on CPUs.

Keras' `jit_compile="auto"` turns XLA off on CPU-only machines and under every distribution
strategy; keras_mae's models and runs turn it on wherever it works (it is faster).
"""

import tensorflow as tf
from absl import logging


def jit_compile_for(strategy, requested):
    """Whether to XLA-compile the step: as requested, except where TF 2.21 cannot on a CPU
    (MirroredStrategy over logical CPU devices; multi-worker collectives), with one warning."""
    if not requested:
        return False
    on_cpu_only = not tf.config.list_logical_devices("GPU") and not isinstance(
        strategy, tf.distribute.TPUStrategy
    )
    distributed = strategy.num_replicas_in_sync > 1 or isinstance(
        strategy, tf.distribute.MultiWorkerMirroredStrategy
    )
    if on_cpu_only and distributed:
        logging.warning(
            "XLA is off for this run: TensorFlow 2.21 cannot compile a step distributed over "
            "CPU devices (%s with %d replicas). GPUs and TPUs keep XLA.",
            type(strategy).__name__, strategy.num_replicas_in_sync,
        )
        return False
    return True
