"""The bundled sample: the Fashion-MNIST test split (10,000 real 28x28 grey images, MIT licence).

It ships inside the package so that the quickstart and the tests run offline with no download.
"""

import gzip
import importlib.resources

import numpy as np

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def read_idx(path):
    """A gzipped IDX file (big-endian magic, one uint32 per dimension, uint8 data) -> ndarray."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    num_dims = data[3]
    shape = np.frombuffer(data, dtype=">u4", count=num_dims, offset=4)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * num_dims).reshape(shape)


def fashion_mnist_sample():
    """(images uint8 [10000, 28, 28, 1], labels int64 [10000]) from the package's assets."""
    folder = importlib.resources.files("keras_mae") / "assets" / "fashion_mnist"
    with importlib.resources.as_file(folder / "t10k-images-idx3-ubyte.gz") as path:
        images = read_idx(path)[..., None]
    with importlib.resources.as_file(folder / "t10k-labels-idx1-ubyte.gz") as path:
        labels = read_idx(path).astype(np.int64)
    return images, labels
