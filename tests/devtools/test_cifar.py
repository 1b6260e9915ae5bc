"""The CIFAR-10 extraction the benches, experiments and tests share."""

import pytest

from devtools.cifar import CIFAR_ARCHIVE, extract_cifar


def test_cifar_extraction_takes_the_first_images_of_each_class_and_split(tmp_path):
    if not CIFAR_ARCHIVE.exists():
        pytest.skip(f"Real data not found at {CIFAR_ARCHIVE}")
    folder = extract_cifar(CIFAR_ARCHIVE, tmp_path, per_class=4)
    for split, count in (("train", 4), ("test", 1)):
        classes = sorted(path.name for path in (folder / split).iterdir())
        assert len(classes) == 10, classes
        for label in classes:
            files = list((folder / split / label).iterdir())
            assert len(files) == count and all(path.suffix == ".jpg" for path in files)
