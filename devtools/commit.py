"""The commit that produced a figure, recorded by bench/ and experiments/ beside it."""

import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[1]


def commit():
    """The checked-out commit, marked "-dirty" if the library, configs or experiments differ."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                          text=True).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--porcelain", "keras_mae", "configs", "experiments", "devtools",
         "train.py"],
        cwd=REPO, capture_output=True, text=True).stdout.strip()
    return head + ("-dirty" if changed else "")
