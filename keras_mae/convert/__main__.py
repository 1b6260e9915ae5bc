"""Convert released MAE weights to a Keras file.

    python -m keras_mae.convert --checkpoint mae_pretrain_vit_base.pth --output mae_vit_b.keras
    python -m keras_mae.convert --checkpoint ./vit-mae-base --output mae_vit_b.weights.h5
    python -m keras_mae.convert --checkpoint runs/cifar10/model.keras --to keras_hub \
        --output mae_cifar10_preset        # a keras-hub ViTBackbone preset folder

A folder is read as a HuggingFace ViTMAE checkpoint (or a keras-hub ViT preset), a file as a
facebookresearch/mae `.pth` or a `.keras` file. Outputs ending in `.weights.h5` hold the weights
alone; `.keras` the whole model; `--to keras_hub` writes the encoder and its image converter
(the data normalisation: --mean/--std, by default the run's config.json) as a keras-hub preset.
"""

from absl import flags

from keras_mae import cli
from keras_mae.convert.keras_hub import to_keras_hub
from keras_mae.errors import InputError
from keras_mae.loading import load

_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "A .pth, .keras, HuggingFace or keras-hub "
                                  "preset folder.",
                                  required=True)
_OUTPUT = flags.DEFINE_string("output", None, "The .keras or .weights.h5 file to write (with "
                              "--to keras_hub: the preset folder).", required=True)
_TO = flags.DEFINE_enum("to", "keras", ["keras", "keras_hub"],
                        "keras: a keras_mae model file; keras_hub: a keras-hub ViT preset folder.")
_PRESET = flags.DEFINE_string("preset", None, "Architecture; default: inferred from the shapes.")
_NORM_PIX_LOSS = flags.DEFINE_bool("norm_pix_loss", None,
                                   "Whether the model was pretrained with norm-pix targets "
                                   "(official .pth files do not say; HuggingFace configs do).")
cli.define_normalization_flags()


def main(argv):
    del argv
    overrides = {} if _NORM_PIX_LOSS.value is None else {"norm_pix_loss": _NORM_PIX_LOSS.value}
    if _PRESET.value:
        overrides["preset"] = _PRESET.value
    if _TO.value == "keras_hub":
        mean, std = cli.normalization_from_flags(_CHECKPOINT.value)
        hub = to_keras_hub(load(_CHECKPOINT.value, **overrides), _OUTPUT.value, mean, std)
        print(f"keras-hub {type(hub).__name__} ({hub.count_params():,} parameters) written to "
              f"{_OUTPUT.value}")
        return
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
