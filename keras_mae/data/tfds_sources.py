"""TensorFlow Datasets by name as `ImageSource`s.

Data prepared as ArrayRecord (`tfds build NAME --file_format=array_record`) is read by index
(`builder.as_data_source`), so training draws the same per-(seed, epoch) permutation of the
whole split as folders and arrays, and can start anywhere in an epoch. Data prepared as
TFRecord (TFDS' default) can only be read in sequence: each epoch reads its files in an order
drawn from (seed, epoch) through a shuffle buffer seeded the same way, reproducible, but not a
permutation of the whole split.
"""

import difflib
import re

import numpy as np
import tensorflow as tf
from absl import logging

from keras_mae.data.sources import ImageSource, channel_converter
from keras_mae.errors import InputError

_INTERLEAVED_FILES = 16  # TFRecord files read at once, as TFDS' own reader does


def from_tfds(name, split="train", data_dir=None, download=True, image_key="image",
              label_key="label", num_channels=None):
    """A TensorFlow Datasets data set by name, e.g. `from_tfds("cifar10", "train")`: with
    random access where it is prepared as ArrayRecord, file by file where it is TFRecord.

    Unknown names, and data sets that are not prepared when `download` is False, are refused
    at once with what to do (instead of TFDS' list of every data set, or its download retries).

    Args:
        name: the TFDS name, e.g. "cifar10" or "imagenet2012:5.1.0".
        split: a TFDS split, slices included: "train", "train[:95%]".
        data_dir: where the data set is prepared; None: TFDS' default (~/tensorflow_datasets).
        download: download and prepare it (as ArrayRecord) if it is not prepared yet.
        image_key: the feature holding the image.
        label_key: the feature holding the label (-1 where the data set has none).
        num_channels: the channels to deliver (1 and 3 convert); None keeps the data set's.

    Returns:
        An `ImageSource` of (uint8 [H, W, C], int64) pairs.

    Raises:
        InputError: an unknown name or split, or a data set not prepared with `download` off.
    """
    import tensorflow_datasets as tfds

    builder = _check_tfds(tfds, name, split, data_dir, download)
    if download and not builder.is_prepared():
        builder.download_and_prepare(file_format="array_record")
    info = builder.info
    label_feature = info.features[label_key] if label_key in info.features else None
    class_names = tuple(getattr(label_feature, "names", None) or ())
    convert = channel_converter(info.features[image_key].shape[-1], num_channels,
                                f"The images of TFDS {name!r}")

    def to_pair(example):
        label = example[label_key] if label_feature is not None else tf.constant(-1)
        return convert(example[image_key], tf.cast(label, tf.int64))

    array_record = tfds.core.file_adapters.FileFormat.ARRAY_RECORD
    if array_record in (info.file_format, *getattr(info, "alternative_file_formats", ())):
        records = builder.as_data_source(
            split, deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES,
            file_format=array_record)

        def read(index):
            record = tf.numpy_function(lambda i: np.array(records[int(i)], dtype=object), [index],
                                       tf.string, stateful=False)
            return to_pair(info.features.deserialize_example(tf.ensure_shape(record, [])))

        dataset = tf.data.Dataset.range(len(records)).map(
            read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ImageSource(dataset, len(records), class_names, read=read)

    dataset = builder.as_dataset(split=split, shuffle_files=False)
    try:
        num_examples = info.splits[split].num_examples
    except KeyError:  # no split metadata (e.g. under tfds.testing.mock_data): count instead
        num_examples = int(dataset.reduce(0, lambda count, _: count + 1))
    dataset = dataset.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE)

    warned = []  # once per source, though every epoch asks for its order

    def epoch_order(seed):
        if not warned:
            warned.append(True)
            logging.warning(
                "TFDS %r is stored as TFRecord: each epoch reads its files in a new order through "
                "a shuffle buffer, not a permutation of the whole split: the images of a file stay "
                "close together. Prepare it once as ArrayRecord for "
                "the exact per-epoch shuffle: `tfds build %s --file_format=array_record`.",
                name, name)
        examples = _files_in_order(info.splits[split].file_instructions, seed)
        return examples.map(lambda record: to_pair(info.features.deserialize_example(record)),
                            num_parallel_calls=tf.data.AUTOTUNE)

    return ImageSource(dataset, num_examples, class_names, epoch_order=epoch_order)


def _files_in_order(file_instructions, seed):
    """The serialized examples of TFRecord `file_instructions` (file, skip, take), the files in
    an order drawn from `seed` ([2] int64) and interleaved as TFDS reads them."""
    files = tf.constant([instruction.filename for instruction in file_instructions])
    skips = tf.constant([instruction.skip for instruction in file_instructions], tf.int64)
    takes = tf.constant([instruction.take for instruction in file_instructions], tf.int64)
    order = tf.random.experimental.stateless_shuffle(tf.range(len(file_instructions)), seed)
    return tf.data.Dataset.from_tensor_slices(order).interleave(
        lambda i: tf.data.TFRecordDataset(files[i]).skip(skips[i]).take(takes[i]),
        cycle_length=min(_INTERLEAVED_FILES, len(file_instructions)), block_length=16,
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
    )


def _check_tfds(tfds, name, split, data_dir, download):
    """The builder of `name`; refuse an unknown TFDS name (with the close ones), an unprepared
    data set that may not be downloaded (with how to prepare it) and an unknown split; announce
    a download."""
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        base = re.split(r"[/:]", name)[0]
        close = difflib.get_close_matches(base, tfds.list_builders(with_community_datasets=False))
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise InputError(
            f"TFDS has no data set {name!r}.{hint} All names: "
            "https://www.tensorflow.org/datasets/catalog/overview (--config.data.tfds_name)."
        ) from None
    if not builder.is_prepared():
        where = data_dir or "TFDS' default data_dir (~/tensorflow_datasets)"
        if download:
            logging.warning("TFDS data set %r is not prepared in %s: downloading and preparing "
                            "it now (needs network access).", name, where)
            return builder
        manual = " (it needs a manual download first: --manual_dir)" if getattr(
            builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None) else ""
        command = f"tfds build {name.split(':')[0]}"
        command += f" --data_dir={data_dir}" if data_dir else ""
        raise InputError(
            f"TFDS data set {name!r} is not prepared in {where}, and downloads are off "
            f"(data.tfds_download=False). Prepare it once where there is network access: "
            f"`{command} --file_format=array_record`{manual}; or point "
            "--config.data.tfds_data_dir to where it is prepared."
        )
    splits = set(builder.info.splits)
    unknown = [part for part in re.findall(r"[A-Za-z_][\w-]*", split) if part not in splits]
    if splits and unknown:
        raise InputError(
            f"TFDS data set {name!r} has no split {unknown[0]!r}; its splits: "
            f"{', '.join(sorted(splits))} (slices like 'train[:95%]' work too)."
        )
    return builder
