"""Command lines start quiet: TensorFlow's own logs (its native libraries' start-up lines, CUDA
probing on machines without a GPU, XLA service lines, cancelled rendezvous between epochs) are
hidden unless `--verbose` is given. Importing keras_mae as a library changes nothing."""

import logging
import os
import pathlib
import sys

from absl import logging as absl_logging

ENTRY_MODULES = ("keras_mae.train", "keras_mae.export", "keras_mae.visualize",
                 "keras_mae.convert", "keras_mae.check", "keras_mae.data.stats")
ENTRY_SCRIPT = "keras-mae-train"  # keras_mae.train's console script, once installed


def is_command_line(argv=None):
    """Whether this process is `train.py`, `keras-mae-train` or `python -m keras_mae.<tool>`."""
    argv = list(argv if argv is not None else getattr(sys, "orig_argv", sys.argv))
    if "-m" in argv[:-1]:
        return argv[argv.index("-m") + 1] in ENTRY_MODULES
    if any(pathlib.Path(arg).name == ENTRY_SCRIPT for arg in argv[:2]):
        return True
    scripts = [pathlib.Path(arg) for arg in argv[1:2] if arg.endswith(".py")]
    return any(s.name == "train.py" and (s.resolve().parent / "keras_mae").is_dir()
               for s in scripts)


def wants_verbose(argv):
    return any(arg in ("--verbose", "--verbose=true", "--verbose=True") for arg in argv)


def quiet_tensorflow():
    """Mute TensorFlow's C++ logs (errors that matter surface as Python exceptions; a
    TF_CPP_MIN_LOG_LEVEL the user set is kept) and its Python INFO lines, and import it with
    the C stderr muted: its native libraries log before any log level applies."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    absl_logging.get_absl_handler().addFilter(_tensorflow_info)
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved), os.close(devnull)


def _tensorflow_info(record):
    """False for INFO lines that TensorFlow's or Keras' own modules log through absl."""
    parts = pathlib.Path(record.pathname).parts
    return record.levelno >= logging.WARNING or not {"tensorflow", "keras"} & set(parts)


def quiet_if_command_line():
    if is_command_line() and not wants_verbose(sys.argv):
        quiet_tensorflow()
