"""`python -m keras_mae.export --checkpoint model.keras --output folder [--mean --std]`: a
SavedModel for serving, the data normalisation inside (from the run's config.json by default)."""

from absl import flags

from keras_mae import cli
from keras_mae.export import export_saved_model
from keras_mae.loading import load

_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "A .keras model file.", required=True)
_OUTPUT = flags.DEFINE_string("output", None, "Folder to write the SavedModel to.",
                              required=True)
cli.define_normalization_flags()


def main(argv):
    del argv
    model = load(_CHECKPOINT.value)
    mean, std = cli.normalization_from_flags(_CHECKPOINT.value)
    export_saved_model(model, _OUTPUT.value, mean, std)
    print(f"SavedModel written to {_OUTPUT.value}")


if __name__ == "__main__":
    cli.run(main)
