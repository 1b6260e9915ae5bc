"""Image data for MAE: sources (bundled sample, TFDS, folders, arrays) and the input pipeline."""

from keras_mae.data.pipeline import labelled_batches, make_dataset
from keras_mae.data.sources import ImageSource, from_arrays, from_folder, sample_source
from keras_mae.data.tfds_sources import from_tfds
from keras_mae.data.unreadable import find_unreadable

__all__ = [
    "ImageSource", "find_unreadable", "from_arrays", "from_folder", "from_tfds",
    "labelled_batches", "make_dataset", "sample_source",
]
