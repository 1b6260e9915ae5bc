"""Private Keras/TensorFlow API, counted: every private name keras_mae's sources touch is
registered in `keras_mae.private_api` (and nothing registered is unused), only that module
imports `keras.src` or reaches `tf.__internal__`, and `compile` refuses an optimizer without
the private methods the training step calls, naming the Keras version."""

import ast
import pathlib

import keras
import pytest

from keras_mae import private_api
from keras_mae.private_api import PRIVATE_API, PrivateAPIMissing

from conftest import TINY, make_mae

SOURCES = pathlib.Path(private_api.__file__).parent
KERAS_BASES = (keras.Model, keras.optimizers.Optimizer, keras.optimizers.LossScaleOptimizer,
               keras.callbacks.BackupAndRestore, keras.metrics.Metric)


def is_private(name):
    return name.startswith("_") and not name.startswith("__")


def keras_has(name):
    return any(hasattr(base, name) for base in KERAS_BASES)


def trees():
    return {path: ast.parse(path.read_text()) for path in sorted(SOURCES.rglob("*.py"))}


def own_names(parsed):
    """Private names keras_mae defines: functions, classes, module names, attributes it sets."""
    names = set()
    for tree in parsed.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return {name for name in names if is_private(name)}


def private_names_touched(parsed):
    """{name: files} of Keras'/TF's private names: attributes keras_mae reads but never
    defines, Keras methods it overrides, names imported from `keras.src`, `__internal__` API."""
    ours, touched = own_names(parsed), {}
    for path, tree in parsed.items():
        for node in ast.walk(tree):
            found = []
            if isinstance(node, ast.Attribute) and is_private(node.attr):
                if node.attr not in ours or keras_has(node.attr):
                    found.append(node.attr)
            elif isinstance(node, ast.FunctionDef) and is_private(node.name):
                if keras_has(node.name):
                    found.append(node.name)
            elif isinstance(node, ast.Call) and "__internal__." in ast.unparse(node.func):
                found.append(ast.unparse(node.func).split(".")[-1])
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    ("keras.src", "tensorflow.python")):
                found.extend(alias.name for alias in node.names)
            for name in found:
                touched.setdefault(name, set()).add(path.relative_to(SOURCES).as_posix())
    return touched


def test_every_private_name_keras_mae_touches_is_registered_and_every_registered_one_used():
    touched = private_names_touched(trees())
    unregistered = {name: files for name, files in touched.items() if name not in PRIVATE_API}
    assert not unregistered, f"register these in keras_mae/private_api.py: {unregistered}"
    assert not set(PRIVATE_API) - set(touched), "registered but no longer used"


def test_only_the_door_imports_keras_src_or_reaches_tf_internal():
    for path, tree in trees().items():
        if path.name == "private_api.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                    alias.name for alias in node.names]
                assert not any(m.startswith(("keras.src", "tensorflow.python"))
                               for m in modules), path
            assert not (isinstance(node, ast.Attribute) and node.attr == "__internal__"), path


def test_compile_names_the_keras_version_when_a_private_optimizer_method_is_gone(monkeypatch):
    defining = next(c for c in keras.optimizers.SGD.__mro__ if "_clip_gradients" in vars(c))
    monkeypatch.delattr(defining, "_clip_gradients")
    model = make_mae(**TINY)
    with pytest.raises(PrivateAPIMissing, match=rf"private SGD\._clip_gradients .*Keras "
                                                rf"{keras.__version__} does not have"):
        model.compile(optimizer=keras.optimizers.SGD(0.1))
