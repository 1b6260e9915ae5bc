"""The API reference covers the public API: each `::: name` of docs/api/ names an object of
keras_mae, and each name a public package exports (`__all__`) has its reference there."""

import importlib
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
TARGETS = [target for page in sorted((REPO / "docs/api").glob("*.md"))
           for target in re.findall(r"^::: (\S+)$", page.read_text(), re.M)]
PACKAGES = ("keras_mae", "keras_mae.layers", "keras_mae.data", "keras_mae.convert")


def resolve(name):
    """The object a dotted `name` stands for, as mkdocstrings finds it: the longest module
    prefix, then attributes."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(name)


def test_the_pages_have_references():
    assert len(TARGETS) >= 10, TARGETS


@pytest.mark.parametrize("target", TARGETS)
def test_each_reference_names_an_object(target):
    assert resolve(target) is not None


@pytest.mark.parametrize("package", PACKAGES)
def test_each_exported_name_has_a_reference(package):
    exported = importlib.import_module(package).__all__
    missing = [name for name in exported
               if package not in TARGETS and f"{package}.{name}" not in TARGETS]
    assert not missing, f"no `::: {package}.<name>` in docs/api/ for {missing}"
