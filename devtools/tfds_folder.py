"""Image folders written as TFDS data sets (ArrayRecord or TFRecord) without a download, for
tests/ and bench/."""

import pathlib


def folder_as_tfds(folder, data_dir, name, file_format="array_record", num_shards=None):
    """A class-per-folder tree of JPEGs -> a TFDS data set `name` in `data_dir` (split "train",
    the JPEG bytes stored as they are), its examples in `from_folder`'s order (sorted classes,
    then sorted files), written as `file_format` in `num_shards` files (None: TFDS' choice);
    prepared offline, read back by `from_tfds(name, data_dir=data_dir)`. Returns `data_dir`."""
    import tensorflow_datasets as tfds

    folder = pathlib.Path(folder)
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir())
    examples = [{"image": str(file), "label": label} for label, class_name in enumerate(classes)
                for file in sorted((folder / class_name).glob("*.jpg"))]
    features = tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(None, None, 3)),
        "label": tfds.features.ClassLabel(names=classes),
    })
    tfds.dataset_builders.store_as_tfds_dataset(
        name, "1.0.0", features, {"train": list(enumerate(examples))}, data_dir=str(data_dir),
        file_format=file_format, disable_shuffling=True,
        download_config=tfds.download.DownloadConfig(num_shards=num_shards),
    )
    return data_dir
