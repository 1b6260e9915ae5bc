"""Shared fixtures: quiet TensorFlow, a tiny model, and real CIFAR-10 images from ../shared/data."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib
import tarfile

import pytest

from keras_mae.distribute import split_cpu

# Two logical CPU devices, so that MirroredStrategy runs in-process without GPUs. It must happen
# before TensorFlow initialises its devices, hence at import.
split_cpu(2)

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CIFAR_ARCHIVE = SHARED_DATA / "cifar10-jpeg" / "cifar10-jpeg-q75.tar.gz"

TINY = dict(
    image_size=(16, 24), patch_size=4, num_channels=3,
    encoder_dim=32, encoder_depth=2, encoder_heads=4, encoder_mlp_dim=64,
    decoder_dim=16, decoder_depth=1, decoder_heads=2, decoder_mlp_dim=32,
)


@pytest.fixture
def tiny_config():
    """Constructor arguments of a tiny non-square MAE (4x6 patches), fast enough for any test."""
    return dict(TINY)


def extract_cifar(destination, per_class):
    """Extract the first `per_class` train and test JPEGs of every class into `destination`."""
    if not CIFAR_ARCHIVE.exists():
        pytest.skip(f"Real data not found at {CIFAR_ARCHIVE}")
    counts = {}
    with tarfile.open(CIFAR_ARCHIVE, "r:gz") as archive:
        for member in archive:
            parts = pathlib.PurePosixPath(member.name).parts
            if not member.isfile() or len(parts) < 3:
                continue
            split, label = parts[-3], parts[-2]
            limit = per_class if split == "train" else per_class // 4
            key = (split, label)
            if counts.get(key, 0) >= limit:
                continue
            counts[key] = counts.get(key, 0) + 1
            target = destination / split / label / parts[-1]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.extractfile(member).read())
    return destination


@pytest.fixture(scope="session")
def cifar_folder(tmp_path_factory):
    """Real CIFAR-10 JPEGs: train/<class>/ (400 per class) and test/<class>/ (100 per class)."""
    return extract_cifar(tmp_path_factory.mktemp("cifar10"), per_class=400)
