"""The CIFAR-10 JPEG archive of ../shared/data and its extraction into class folders, for
bench/, experiments/ and tests/."""

import pathlib
import tarfile

REPO = pathlib.Path(__file__).resolve().parents[1]
CIFAR_ARCHIVE = REPO.parent / "shared" / "data" / "cifar10-jpeg" / "cifar10-jpeg-q75.tar.gz"


def extract_cifar(archive, destination, per_class):
    """The first `per_class` train and `per_class // 4` test JPEGs of every class of the CIFAR-10
    archive -> `destination`/train/<class>/*.jpg and `destination`/test/<class>/*.jpg."""
    destination = pathlib.Path(destination)
    counts = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = pathlib.PurePosixPath(member.name).parts
            if not member.isfile() or len(parts) < 3:
                continue
            split, label = parts[-3], parts[-2]
            limit = per_class if split == "train" else per_class // 4
            if counts.get((split, label), 0) >= limit:
                continue
            counts[split, label] = counts.get((split, label), 0) + 1
            target = destination / split / label / parts[-1]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())
    return destination
