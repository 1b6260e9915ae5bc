"""`python -m keras_mae.visualize --checkpoint model.keras --images folder_or_files...`: the
paper's reconstruction figure for your own images, as a PNG."""

import numpy as np
from absl import flags

from keras_mae import cli
from keras_mae.data.normalization import PixelNormalization
from keras_mae.loading import load
from keras_mae.models import MaskedAutoencoder
from keras_mae.visualize import load_images, reconstruction_figure, save_png

_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "A MaskedAutoencoder .keras file.",
                                  required=True)
_IMAGES = flags.DEFINE_list("images", None, "Image files and/or folders.", required=True)
_OUTPUT = flags.DEFINE_string("output", "reconstructions.png", "The PNG to write.")
_NUM_IMAGES = flags.DEFINE_integer("num_images", 8, "Rows of the figure.")
_SEED = flags.DEFINE_integer("seed", 0, "Masking seed.")
cli.define_normalization_flags()


def main(argv):
    del argv
    model = load(_CHECKPOINT.value, expect=MaskedAutoencoder)
    mean, std = cli.normalization_from_flags(_CHECKPOINT.value)
    pixels = load_images(_IMAGES.value, model.image_size, model.num_channels, _NUM_IMAGES.value)
    images = PixelNormalization(mean, std).normalize(pixels).numpy()
    noise = np.random.default_rng(_SEED.value).random((len(images), model.num_patches))
    save_png(reconstruction_figure(model, images, mean, std, noise.astype(np.float32)),
             _OUTPUT.value)
    print(f"{len(images)} reconstructions drawn to {_OUTPUT.value}")


if __name__ == "__main__":
    cli.run(main)
