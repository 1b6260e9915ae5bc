"""Compatibility sessions: a fast subset of the tests (models, layers, optimizers, training
steps, `train.py` end to end, export and load) in a venv of its own, on the oldest supported
TensorFlow and Keras (`nox -s compat_oldest`) and on the newest keras-nightly
(`nox -s compat_nightly`). The whole suite runs on the lock, requirements-test.txt."""

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["compat_oldest"]  # `nox` alone; the nightly may break for Keras' reasons

OLDEST = ("tensorflow==2.19.1", "keras==3.10.0")  # pyproject.toml's lower bounds
NEWEST_TENSORFLOW = "tensorflow==2.21.0"

# Without PyTorch (its tests skip); the two longest, train.py end to end and steps per execution
# with a resume, take ~3 minutes each on a busy 2-core machine, on one core each.
SUBSET = (
    "tests/layers",
    "tests/models/test_masked_autoencoder.py",
    "tests/models/test_classifier.py",
    "tests/models/test_loading.py",
    "tests/test_optimizers.py",
    "tests/training/test_steps_per_execution.py",
    "tests/training/test_execution_steps.py",
    "tests/training/test_nonfinite.py",
    "tests/training/test_throughput.py",
    "tests/training/test_pretrain.py",  # train.py on configs/quickstart.py, with its SavedModel
    "tests/tools/test_export.py",
)


def _run_subset(session):
    """The subset on both cores; the skips CI refuses elsewhere (no PyTorch here) allowed."""
    session.run("python", "-c", "import tensorflow as tf, keras; "
                "print('tensorflow', tf.__version__, 'keras', keras.__version__)")
    session.run("python", "-m", "pytest", "-n", "2", "--dist", "loadfile", *SUBSET,
                *session.posargs, env={"TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_MAE_NO_SKIPS": "0"})


@nox.session
def compat_oldest(session):
    """tensorflow 2.19.1 + keras 3.10.0, everything else resolved within pyproject.toml."""
    session.install(".[test]", *OLDEST)
    _run_subset(session)


@nox.session
def compat_nightly(session):
    """tensorflow 2.21 + the newest keras-nightly (which replaces the keras package)."""
    session.install(".[test]", NEWEST_TENSORFLOW)
    session.run("python", "-m", "pip", "uninstall", "--yes", "--quiet", "keras")
    session.install("--pre", "--upgrade", "keras-nightly")
    _run_subset(session)
