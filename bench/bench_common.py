"""What every bench shares: the repo on the import path, preset architectures and ViTMAE configs
read without importing TensorFlow (the PyTorch process must not load it), the CIFAR-10 JPEGs,
medians, peak RSS and the machine's name."""

import ast
import os
import pathlib
import platform
import resource
import statistics
import sys
import tarfile
import types

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CIFAR_ARCHIVE = REPO.parent / "shared" / "data" / "cifar10-jpeg" / "cifar10-jpeg-q75.tar.gz"
_SOURCES = {}


def product_source(relative_path, **names):
    """A keras_mae module run from its file without its `keras_mae` imports, which would import
    the package and so TensorFlow; `names` stand in for what those imports gave. Only what does
    not call into the rest of the package is usable (plain data, self-contained functions)."""
    key = (relative_path, tuple(sorted(names)))
    if key not in _SOURCES:
        path = REPO / relative_path
        tree = ast.parse(path.read_text(), str(path))
        tree.body = [node for node in tree.body if not _imports_keras_mae(node)]
        module = types.ModuleType(f"_bench_source_of_{path.stem}")
        module.__file__ = str(path)
        module.__dict__.update(names)
        exec(compile(tree, str(path), "exec"), module.__dict__)
        _SOURCES[key] = module
    return _SOURCES[key]


def _imports_keras_mae(node):
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] == "keras_mae"
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == "keras_mae" for alias in node.names)
    return False


def _presets():
    errors = product_source("keras_mae/errors.py")
    return product_source("keras_mae/models/presets.py", InputError=errors.InputError)


def preset_architecture(name, **overrides):
    """A preset's flat constructor arguments (the backbone's and the decoder's) with
    `overrides`, and `image_size` as a (height, width) pair. Unknown names are refused."""
    presets = _presets()
    backbone, task = presets.preset_arguments(name, **overrides)
    architecture = {**backbone, **task}
    preset = presets.get_preset(name)
    known = {*preset["backbone"], *preset["decoder"], *presets.BACKBONE_ARGUMENTS,
             "mask_ratio", "norm_pix_loss", "seed", "mask_token_in_encoder", "loss_on"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise SystemExit(f"Unknown architecture field(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(known))}.")
    size = architecture["image_size"]
    architecture["image_size"] = (size, size) if isinstance(size, int) else tuple(size)
    return architecture


def hf_config(arguments):
    """`keras_mae.convert.huggingface.hf_config`: ViTMAEConfig keyword arguments of flat
    constructor arguments, without importing TensorFlow."""
    return product_source("keras_mae/convert/huggingface.py").hf_config(arguments)


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


def folder_as_tfds(folder, data_dir, name, file_format="array_record", num_shards=None):
    """A class-per-folder image tree -> a TFDS data set `name` in `data_dir` (split "train", the
    JPEG bytes stored as they are), its examples in `from_folder`'s order (sorted classes, then
    sorted files), written as `file_format` in `num_shards` files (None: TFDS' choice); prepared offline, read back by
    `from_tfds(name, data_dir=data_dir)`. Returns `data_dir`."""
    import tensorflow_datasets as tfds

    folder = pathlib.Path(folder)
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir())
    examples = [{"image": str(file), "label": label} for label, name_ in enumerate(classes)
                for file in sorted((folder / name_).glob("*.jpg"))]
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


def cpu_name():
    """The processor's model name and CPU count, to say which machine figures come from."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            name = next(line.split(":", 1)[1].strip() for line in cpuinfo
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{name}, {os.cpu_count()} CPUs"


def median(values):
    return statistics.median(values)


def max_rss_mb():
    """Peak resident memory of this process so far, in MiB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_overrides(pairs):
    """["num_layers=2", "image_size=(32, 48)"] -> {"num_layers": 2, "image_size": (32, 48)}."""
    overrides = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            overrides[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError) as error:
            raise SystemExit(
                f"--set {pair!r}: expected NAME=python-literal, e.g. num_layers=2"
            ) from error
    return overrides
