"""Putting converted arrays into a Keras model, with errors that name the weight at fault."""

import numpy as np

from keras_mae.errors import InputError

_PARTS = ("backbone", "decoder", "fc_norm", "head_norm", "head")


def model_weights(model):
    """{"backbone/...", "decoder/...", "head/...": weight}: every weight of a keras_mae model by
    its path below the model's part that holds it, whatever the layers are named."""
    weights = {}
    for part in _PARTS:
        layer = getattr(model, part, None)
        for weight in layer.weights if layer is not None else ():
            weights[f"{part}/{weight.path.split(layer.name + '/', 1)[-1]}"] = weight
    return weights


def assign_weights(model, arrays, fresh_ok=()):
    """Assign `arrays` ({path as `model_weights` names it: array}) to `model`'s weights.

    Every weight must receive an array of its shape, except weights under a prefix in
    `fresh_ok`, which may keep their initial values (e.g. the decoder of an encoder-only
    checkpoint); every array must land somewhere.
    """
    weights = model_weights(model)
    unused = sorted(set(arrays) - set(weights))
    if unused:
        raise InputError(
            f"The checkpoint has weights that {type(model).__name__} has not: {unused[:5]}. "
            "Is it a checkpoint of another architecture?"
        )
    missing = sorted(path for path in set(weights) - set(arrays) if not path.startswith(fresh_ok))
    if missing:
        raise InputError(f"The checkpoint lacks weights that the model needs: {missing[:5]}.")
    for path, array in arrays.items():
        weight = weights[path]
        if tuple(weight.shape) != array.shape:
            raise InputError(
                f"Weight {path!r} has shape {array.shape} in the checkpoint but "
                f"{tuple(weight.shape)} in the model: pass the matching preset or sizes."
            )
        weight.assign(np.asarray(array, dtype=weight.dtype))
