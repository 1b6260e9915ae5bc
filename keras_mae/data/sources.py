"""Where images come from. Each source gives an `ImageSource` whose dataset yields
`(image uint8 [H, W, C], label int64)` pairs; label -1 where the source has none."""

import dataclasses
import pathlib

import numpy as np
import tensorflow as tf

from keras_mae.data.sample import FASHION_MNIST_CLASSES, fashion_mnist_sample

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


@dataclasses.dataclass
class ImageSource:
    """A data set of (image, label) pairs and what is known of it."""

    dataset: tf.data.Dataset
    num_examples: int
    class_names: tuple = ()

    @property
    def num_classes(self):
        return len(self.class_names)


def from_arrays(images, labels=None, class_names=()):
    """Images [N, H, W] or [N, H, W, C] (uint8, or floats in 0..255) and optional labels [N]."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(
            f"Expected a non-empty array of images [N, H, W, C], got shape {images.shape}."
        )
    images = np.clip(images, 0, 255).astype(np.uint8)
    labels = np.full(len(images), -1) if labels is None else np.asarray(labels)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int64)))
    return ImageSource(dataset, len(images), tuple(class_names))


SAMPLE_SPLITS = {"all": slice(None), "train": slice(None, 9000), "validation": slice(9000, None)}


def sample_source(split="train"):
    """The bundled Fashion-MNIST sample: "train" (first 9,000), "validation" (last 1,000) or "all"."""
    if split not in SAMPLE_SPLITS:
        raise ValueError(f"Unknown sample split {split!r}; use one of {sorted(SAMPLE_SPLITS)}.")
    images, labels = fashion_mnist_sample()
    part = SAMPLE_SPLITS[split]
    return from_arrays(images[part], labels[part], FASHION_MNIST_CLASSES)


def from_folder(path, num_channels=3, shuffle=False, seed=0):
    """A folder of class subfolders of images (class index = sorted folder order), or a flat
    folder of images (no labels). Files are listed once; decoding happens in parallel."""
    root = pathlib.Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"Image folder {str(root)!r} does not exist. Pass the path of a folder that holds "
            "one subfolder of images per class (or images directly)."
        )
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files, labels = [], []
    for label, class_dir in enumerate(class_dirs):
        class_files = _image_files(class_dir)
        files += class_files
        labels += [label] * len(class_files)
    class_names = tuple(d.name for d in class_dirs)
    if not files:
        files, class_names = _image_files(root, recursive=False), ()
        labels = [-1] * len(files)
    if not files:
        raise ValueError(
            f"No images ({', '.join(IMAGE_EXTENSIONS)}) found in {str(root)!r} or its "
            "subfolders. Check the path."
        )
    order = np.random.default_rng(seed).permutation(len(files)) if shuffle else np.arange(len(files))
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.asarray(files)[order], np.asarray(labels, np.int64)[order])
    )

    def decode(file, label):
        image = tf.io.decode_image(
            tf.io.read_file(file), channels=num_channels, expand_animations=False
        )
        return tf.ensure_shape(image, [None, None, num_channels]), label

    dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ImageSource(dataset, len(files), class_names)


def from_tfds(name, split="train", data_dir=None, download=True, shuffle_files=False,
              image_key="image", label_key="label"):
    """A TensorFlow Datasets data set by name, e.g. `from_tfds("cifar10", "train")`."""
    import tensorflow_datasets as tfds

    dataset, info = tfds.load(
        name, split=split, data_dir=data_dir, download=download,
        shuffle_files=shuffle_files, with_info=True,
    )
    label_feature = info.features[label_key] if label_key in info.features else None
    class_names = tuple(getattr(label_feature, "names", None) or ())

    def to_pair(example):
        label = example[label_key] if label_feature is not None else tf.constant(-1)
        return example[image_key], tf.cast(label, tf.int64)

    try:
        num_examples = info.splits[split].num_examples
    except KeyError:  # no split metadata (e.g. under tfds.testing.mock_data): count instead
        num_examples = int(dataset.reduce(0, lambda count, _: count + 1))
    dataset = dataset.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE)
    return ImageSource(dataset, num_examples, class_names)


def _image_files(folder, recursive=True):
    paths = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(str(p) for p in paths if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
