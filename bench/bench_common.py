"""What every bench shares: the repo on the import path, preset architectures and ViTMAE configs
read without importing TensorFlow (the PyTorch process must not load it), image folders as a
TFDS data set, medians and peak RSS. (What experiments/ needs too lives in devtools/.)"""

import ast
import pathlib
import resource
import statistics
import sys
import types

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

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


def preset_names():
    """Every preset's name, sorted, as `keras_mae.list_presets()` gives them."""
    return _presets().list_presets()


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
