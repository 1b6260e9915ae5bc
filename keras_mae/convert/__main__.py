"""Convert released MAE weights to a Keras file.

    python -m keras_mae.convert --checkpoint mae_pretrain_vit_base.pth --output mae_vit_b.keras
    python -m keras_mae.convert --checkpoint ./vit-mae-base --output mae_vit_b.weights.h5

A folder is read as a HuggingFace ViTMAE checkpoint, a file as a facebookresearch/mae `.pth`.
Outputs ending in `.weights.h5` hold the weights alone; `.keras` the whole model.
"""

from absl import flags

from keras_mae import cli
from keras_mae.errors import InputError
from keras_mae.loading import load

_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "A .pth file or a HuggingFace folder.",
                                  required=True)
_OUTPUT = flags.DEFINE_string("output", None, "The .keras or .weights.h5 file to write.",
                              required=True)
_PRESET = flags.DEFINE_string("preset", None, "Architecture; default: inferred from the shapes.")
_NORM_PIX_LOSS = flags.DEFINE_bool("norm_pix_loss", None,
                                   "Whether the model was pretrained with norm-pix targets "
                                   "(official .pth files do not say; HuggingFace configs do).")


def main(argv):
    del argv
    overrides = {} if _NORM_PIX_LOSS.value is None else {"norm_pix_loss": _NORM_PIX_LOSS.value}
    if _PRESET.value:
        overrides["preset"] = _PRESET.value
    if not _OUTPUT.value.endswith((".keras", ".weights.h5")):
        raise InputError(f"--output {_OUTPUT.value!r} must end in .keras (the model) or "
                         ".weights.h5 (its weights alone).")
    model = load(_CHECKPOINT.value, **overrides)
    if _OUTPUT.value.endswith(".weights.h5"):
        model.save_weights(_OUTPUT.value)
    else:
        model.save(_OUTPUT.value)
    print(f"{type(model).__name__} ({model.count_params():,} parameters) written to {_OUTPUT.value}")


if __name__ == "__main__":
    cli.run(main)
