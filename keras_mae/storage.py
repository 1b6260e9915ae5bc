"""Files of a work directory on any file system TensorFlow reads: a local path, or a URL
(`gs://`, `s3://` and `hdfs://` with tensorflow-io, `ram://` in memory) through `tf.io.gfile`.

`pathlib`, `os` and `shutil` would take `gs://bucket/run` for the local folder `gs:/bucket/run`.
Local paths keep Python's own file functions, whose `OSError`s name a full disk (which
`train.py` reports in one line).
"""

import contextlib
import importlib
import os
import pathlib
import re
import shutil

import tensorflow as tf

from keras_mae.errors import InputError

# Schemes of file systems that tensorflow-io registers when imported.
_TENSORFLOW_IO_SCHEMES = ("s3", "hdfs", "az")


def scheme(path):
    """The URL scheme of `path` ("gs" for gs://bucket/run), or "" for a local path."""
    match = re.match(r"^([a-zA-Z][\w+.-]*)://", os.fspath(path))
    return match.group(1).lower() if match else ""


def is_url(path):
    """Whether `path` is a URL (file:// too), written through `tf.io.gfile`, rather than a
    local path."""
    return bool(scheme(path))


def normalize(path):
    """A path as a string: a URL as given (without a trailing slash), a local path as pathlib
    writes it."""
    return os.fspath(path).rstrip("/") if is_url(path) else str(pathlib.Path(path))


def join(path, *names):
    """`path/name/...` for a local path or a URL."""
    return os.path.join(normalize(path), *names)


def check_file_system(path):
    """Refuse a URL whose file system TensorFlow lacks (`s3://` without tensorflow-io, a typo
    such as `gcs://`), naming what to install or type instead; tensorflow-io, if installed, is
    imported to register its file systems. Asks TensorFlow, not the network."""
    name = scheme(path)
    if name in _TENSORFLOW_IO_SCHEMES and name not in tf.io.gfile.get_registered_schemes():
        with contextlib.suppress(ImportError):
            importlib.import_module("tensorflow_io")
    if name in tf.io.gfile.get_registered_schemes():
        return
    if name in _TENSORFLOW_IO_SCHEMES:
        fix = (f"its plugin comes with tensorflow-io (pip install tensorflow-io, a version built "
               f"for TensorFlow {tf.__version__}; keras_mae imports it when needed)")
    elif name == "gcs":
        fix = f"Google Cloud Storage is gs://, e.g. {path.replace('gcs://', 'gs://', 1)}"
    else:
        fix = "use a local folder, gs://, or s3:// or hdfs:// with tensorflow-io"
    raise InputError(f"TensorFlow has no file system for {name}:// ({path}): {fix}.")


def exists(path):
    """Whether a file or folder is there."""
    return tf.io.gfile.exists(path) if is_url(path) else os.path.exists(path)


def makedirs(path):
    """Create `path` and its parents if missing."""
    if is_url(path):
        tf.io.gfile.makedirs(path)
    else:
        pathlib.Path(path).mkdir(parents=True, exist_ok=True)


def write_text(path, text):
    """Write `text` to the file `path`, replacing it."""
    if is_url(path):
        with tf.io.gfile.GFile(path, "w") as file:
            file.write(text)
    else:
        pathlib.Path(path).write_text(text)


def read_text(path):
    """The text of the file `path`."""
    if is_url(path):
        with tf.io.gfile.GFile(path) as file:
            return file.read()
    return pathlib.Path(path).read_text()


def listdir(path):
    """The names in folder `path` (without a trailing slash), [] if it does not exist."""
    if not exists(path):
        return []
    names = tf.io.gfile.listdir(path) if is_url(path) else os.listdir(path)
    return [name.rstrip("/") for name in names]


def remove(path):
    """Delete a file or a folder with its contents; nothing if it does not exist."""
    if is_url(path):
        if tf.io.gfile.isdir(path):
            tf.io.gfile.rmtree(path)
        elif tf.io.gfile.exists(path):
            tf.io.gfile.remove(path)
    elif os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        pathlib.Path(path).unlink(missing_ok=True)


def replace(source, destination):
    """Move file `source` over `destination`: atomic on local disks and HDFS; on object stores a
    copy of one whole object (it appears whole or not at all), then the source's deletion."""
    if is_url(destination):
        tf.io.gfile.rename(source, destination, overwrite=True)
    else:
        os.replace(source, destination)
