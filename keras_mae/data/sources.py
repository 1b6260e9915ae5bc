"""Where images come from. Each source gives an `ImageSource` whose dataset yields
`(image uint8 [H, W, C], label int64)` pairs; label -1 where the source has none.

Given `num_channels`, every source delivers that many channels: grey and RGB images are
converted into each other (with a logged notice where the source is not a folder of files, whose
decoder converts anyway); other channel counts are refused.
"""

import dataclasses
import pathlib
import re
import typing

import numpy as np
import tensorflow as tf
from absl import logging

from keras_mae.data.sample import FASHION_MNIST_CLASSES, fashion_mnist_sample
from keras_mae.errors import InputError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


@dataclasses.dataclass
class ImageSource:
    """A data set of (image, label) pairs and what is known of it.

    `read`, where the source has random access (arrays, folders, TFDS stored as ArrayRecord),
    maps an int64 index in [0, num_examples) to its (image, label): training pipelines then draw
    a new permutation of the whole source every epoch, as the reference's sampler does.
    `epoch_order`, for sources read in sequence (TFDS stored as TFRecord), maps a seed ([2]
    int64) to the examples in an order drawn from it (e.g. files shuffled), which training
    pipelines then pass through a shuffle buffer.

    Attributes:
        dataset: the (image uint8 [H, W, C], label int64) pairs in a fixed order; label -1
            where the source has none.
        num_examples: how many pairs `dataset` yields.
        class_names: the names of the labels 0, 1, ..., or () without labels.
        files: the image files read, for sources made of files.
        read: index -> (image, label), or None.
        epoch_order: seed -> the examples in an order drawn from it, or None.
    """

    dataset: tf.data.Dataset
    num_examples: int
    class_names: tuple = ()
    files: tuple = ()
    read: typing.Optional[typing.Callable] = None
    epoch_order: typing.Optional[typing.Callable] = None

    @property
    def num_classes(self):
        return len(self.class_names)

    def subset(self, count, seed=0):
        """A fixed random `count` of the examples (all if fewer), as (image, label) pairs: the
        same ones in the same order at every iteration and in every process (a k-NN bank)."""
        count = min(count, self.num_examples)
        if self.read is None:
            return self.dataset.shuffle(
                10_000, seed=seed, reshuffle_each_iteration=False).take(count)
        size = tf.constant(self.num_examples - 1, tf.int64)
        shuffle_seed = tf.constant([seed, -1], tf.int64)  # apart from the epochs' [seed, epoch]
        return tf.data.Dataset.range(count).map(
            lambda i: self.read(tf.random.experimental.index_shuffle(i, shuffle_seed, size)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )


def from_arrays(images, labels=None, class_names=(), num_channels=None):
    """An `ImageSource` of images in memory, with random access.

    Args:
        images: [N, H, W] or [N, H, W, C], uint8 or floats in 0..255 (clipped, then cast to
            uint8).
        labels: [N] ints, or None (labels -1).
        class_names: the names of the labels 0, 1, ...
        num_channels: the channels to deliver (1 and 3 convert into each other); None keeps C.

    Returns:
        An `ImageSource` of (uint8 [H, W, C], int64) pairs.

    Raises:
        InputError: the array is empty or not of images, or its channels do not convert.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or len(images) == 0:
        raise InputError(
            f"Expected a non-empty array of images [N, H, W, C], got shape {images.shape}."
        )
    images = np.clip(images, 0, 255).astype(np.uint8)
    labels = np.full(len(images), -1) if labels is None else np.asarray(labels)
    labels = labels.astype(np.int64)
    convert = channel_converter(images.shape[-1], num_channels, "The array images")
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).map(convert)
    images, labels = tf.constant(images), tf.constant(labels)

    def read(index):
        return convert(tf.gather(images, index), tf.gather(labels, index))

    return ImageSource(dataset, len(images), tuple(class_names), read=read)


SAMPLE_SPLITS = {"all": slice(None), "train": slice(None, 9000), "validation": slice(9000, None)}


def sample_source(split="train", num_channels=None):
    """The bundled Fashion-MNIST sample: 10,000 grey 28x28 images with 10 labelled classes.

    Args:
        split: "train" (the first 9,000), "validation" (the last 1,000) or "all".
        num_channels: 1 (as stored), 3 (converted to RGB), or None (1).

    Returns:
        An `ImageSource` with random access.
    """
    if split not in SAMPLE_SPLITS:
        raise InputError(f"Unknown sample split {split!r}; use one of {sorted(SAMPLE_SPLITS)}.")
    images, labels = fashion_mnist_sample()
    part = SAMPLE_SPLITS[split]
    return from_arrays(images[part], labels[part], FASHION_MNIST_CLASSES, num_channels)


def from_folder(path, num_channels=3, require_labels=False):
    """A folder of class subfolders of images (class index = sorted folder order), or a flat
    folder of images (no labels; `require_labels` refuses it). Images directly in a folder that
    has class subfolders belong to no class: they are left out, with a warning. Files are
    listed once; decoding
    happens in parallel. A file that cannot be decoded stops iteration with TensorFlow's error;
    `keras_mae.data.find_unreadable(source.files)` then names every such file.

    A slice after the path takes part of the files, in a fixed shuffled order, as TFDS splits
    do: `cifar10/train[:45000]` and `cifar10/train[45000:]` (or `[:90%]`, `[90%:]`) are two
    disjoint parts, e.g. for choosing settings on held-out training images.

    Args:
        path: the folder, optionally with a slice: "photos/", "cifar10/train[:90%]".
        num_channels: the channels every image is decoded to (1 grey, 3 RGB).
        require_labels: refuse a folder without class subfolders.

    Returns:
        An `ImageSource` with random access, `files` listing the images (JPEG, PNG, BMP, GIF).

    Raises:
        InputError: the folder does not exist, holds no image, has no class subfolders where
            `require_labels`, or its slice is empty.
    """
    path, part = _split_slice(str(path))
    root = pathlib.Path(path).expanduser()
    if not root.is_dir():
        raise InputError(
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
    if files:
        _warn_of_loose_images(root)
    else:
        files, class_names = _image_files(root, recursive=False), ()
        labels = [-1] * len(files)
    if not files:
        raise InputError(
            f"No images ({', '.join(IMAGE_EXTENSIONS)}) found in {str(root)!r} or its "
            "subfolders. Check the path."
        )
    if require_labels and not class_names:
        raise InputError(
            f"{str(root)!r} holds images but no class subfolders, and labels are needed here. "
            f"Put the images of each class in a subfolder named after it: {root}/<class>/<image>."
        )
    if part is not None:
        order = np.random.default_rng(0).permutation(len(files))[_slice(part, len(files))]
        files, labels = [files[i] for i in order], [labels[i] for i in order]
        if not files:
            raise InputError(f"The slice [{part}] of {str(root)!r} holds no image.")
    file_names, labels = tf.constant(files), tf.constant(labels, tf.int64)

    def read(index):
        return decode_file(tf.gather(file_names, index), num_channels), tf.gather(labels, index)

    dataset = tf.data.Dataset.range(len(files)).map(
        read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    return ImageSource(dataset, len(files), class_names, tuple(files), read=read)


def _split_slice(path):
    """"folder[a:b]" -> ("folder", "a:b"); a path without a slice -> (path, None)."""
    match = re.fullmatch(r"(.*)\[(\d*%?:\d*%?)\]", path)
    return (match.group(1), match.group(2)) if match else (path, None)


def _slice(part, size):
    """"a:b" with counts or percentages -> a `slice` of `size` items."""
    bounds = [int(b[:-1]) * size // 100 if b.endswith("%") else int(b) if b else None
              for b in part.split(":")]
    return slice(*bounds)


def decode_file(file, num_channels):
    """An image file (JPEG, PNG, BMP, GIF: first frame) -> uint8 [H, W, num_channels]."""
    image = tf.io.decode_image(
        tf.io.read_file(file), channels=num_channels, expand_animations=False
    )
    return tf.ensure_shape(image, [None, None, num_channels])


def channel_converter(have, num_channels, what):
    """A function (image, label) -> (image with `num_channels` channels, label): grey <-> RGB
    are converted with a notice, other mismatches refused. None keeps the images as they are."""
    if num_channels is None or have is None or have == num_channels:
        return _unchanged
    convert = {(1, 3): tf.image.grayscale_to_rgb, (3, 1): tf.image.rgb_to_grayscale}.get(
        (have, num_channels))
    if convert is None:
        raise InputError(
            f"{what} have {have} channel(s) and the model takes {num_channels} "
            "(data.num_channels); only grey and RGB convert into each other. "
            f"Set --config.data.num_channels={have} or convert the images."
        )
    logging.warning("%s have %d channel(s): converting them to %d (data.num_channels).",
                    what, have, num_channels)
    return lambda image, label: (convert(image), label)


def _unchanged(image, label):
    return image, label


def _warn_of_loose_images(root):
    """Warn of images directly in `root`, beside its class subfolders: they are not read."""
    loose = _image_files(root, recursive=False)
    if loose:
        logging.warning(
            "%d image(s) directly in %s are ignored (e.g. %s): in a folder with class "
            "subfolders only the subfolders' images are read. Move them into a class "
            "subfolder, or point data.train/data.eval at a folder of images alone.",
            len(loose), root, pathlib.Path(loose[0]).name)


def _image_files(folder, recursive=True):
    paths = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(str(p) for p in paths if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
