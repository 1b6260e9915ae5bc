"""The one door to Keras' and TensorFlow's private API: every private name keras_mae touches is
listed here with why (`tests/test_private_api.py` fails on one that is not), and those the
training step relies on are checked at `compile`, so that a Keras release that renames one
fails loudly, naming itself, instead of summing the replicas' gradients twice in silence.

Nothing here imports `keras.src` at `import keras_mae`.
"""

import keras
import tensorflow as tf

from keras_mae.errors import MAEError

# name -> why keras_mae needs it (no public API does the same in Keras 3.10-3.15).
PRIVATE_API = {
    # The optimizer: gradients summed over replicas before clipping (models/replicas.py).
    "_all_reduce_sum_gradients": "made a no-op: the gradients arrive summed over replicas",
    "_iterations": "the step counter of every accumulated step (masks, accumulation)",
    "_trainable_variables": "the variables an accumulating update applies to",
    "_accumulated_gradients": "the accumulators of gradient accumulation across replicas",
    "_get_variable_index": "a variable's accumulator",
    "_clip_gradients": "clipping the summed, accumulated gradients",
    "_apply_weight_decay": "the decoupled weight decay of an accumulated update",
    "_backend_update_step": "the update of an accumulated step, on every replica",
    "_backend_reset_gradient_accumulators": "emptying the accumulators after an update",
    "_backend_increment_gradient_accumulators": "accumulating a step's gradients",
    # The model.
    "_loss_tracker": "the classifier's own steps update Keras' loss metric",
    "_maybe_symbolic_build": "evaluate under MultiWorkerMirroredStrategy skips a rebuild that "
                             "cannot reduce {images, noise} batches",
    # The backup callback: keeps random-number states and the data position too.
    "_save_model": "AtomicBackupAndRestore writes its own, crash-safe states",
    "_load_model": "AtomicBackupAndRestore reads the newest complete state",
    # Distribution.
    "reduce_per_replica": "the step logs of several steps per execution, reduced as Keras does",
    "strategy_supports_no_merge_call": "whether a strategy synchronises through merge_call",
}

# The private names of the optimizer that the training step calls, checked at `compile`.
OPTIMIZER_METHODS = ("_all_reduce_sum_gradients", "_get_variable_index", "_clip_gradients",
                     "_apply_weight_decay", "_backend_update_step",
                     "_backend_reset_gradient_accumulators",
                     "_backend_increment_gradient_accumulators")


class PrivateAPIMissing(MAEError):
    """The installed Keras lacks a private name keras_mae relies on."""

    kind = "unsupported keras"


def _missing(name, where):
    return PrivateAPIMissing(
        f"keras_mae relies on Keras' private {where}.{name} ({PRIVATE_API[name]}), which "
        f"Keras {keras.__version__} does not have. Install a Keras of the supported range "
        "(pyproject.toml) or report it with this line.")


def check_optimizer(optimizer):
    """Raise `PrivateAPIMissing` unless `optimizer` (or the optimizer a `LossScaleOptimizer`
    wraps) has every private name the training step calls."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    for name in OPTIMIZER_METHODS:
        if not callable(getattr(type(inner), name, None)):
            raise _missing(name, type(inner).__name__)
    if not hasattr(inner, "_iterations"):
        raise _missing("_iterations", type(inner).__name__)


def check_model(model):
    """Raise `PrivateAPIMissing` unless the compiled `model` has Keras' loss tracker."""
    if getattr(model, "_loss_tracker", None) is None:
        raise _missing("_loss_tracker", "Model")


def reduce_per_replica(values, strategy, reduction):
    """Keras' reduction of per-replica step logs (imported when first called)."""
    from keras.src.backend.tensorflow.trainer import reduce_per_replica as reduce

    return reduce(values, strategy, reduction)


def strategy_supports_no_merge_call():
    """Whether the current strategy synchronises replicas without `merge_call` (TF's own test,
    as Keras' LossScaleOptimizer asks it)."""
    return tf.__internal__.distribute.strategy_supports_no_merge_call()


def steps_taken(optimizer):
    """Training steps so far, each step of gradient accumulation counted (Keras' public
    `iterations` counts updates, so accumulated steps would share their masks)."""
    return getattr(optimizer, "inner_optimizer", optimizer)._iterations
