"""What every bench shares: the repo on the import path, preset architectures read without
importing TensorFlow (the PyTorch process must not load it), medians, peak RSS and the
machine's name."""

import ast
import importlib.util
import os
import pathlib
import platform
import resource
import statistics
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _presets_module():
    """keras_mae/presets.py alone: importing the package would import Keras and TensorFlow."""
    spec = importlib.util.spec_from_file_location("_presets", REPO / "keras_mae" / "presets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def preset_architecture(name, **overrides):
    """A preset's constructor arguments, with `image_size` as a (height, width) pair."""
    config = _presets_module().preset_config(name, **overrides)
    size = config["image_size"]
    config["image_size"] = (size, size) if isinstance(size, int) else tuple(size)
    return config


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
    """["encoder_depth=2", "image_size=(32, 48)"] -> {"encoder_depth": 2, "image_size": (32, 48)}."""
    overrides = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            overrides[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError) as error:
            raise SystemExit(f"--set {pair!r}: expected NAME=python-literal, e.g. encoder_depth=2") from error
    return overrides
