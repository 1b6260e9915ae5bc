"""The built wheel, installed alone into a fresh venv outside the repository: `import keras_mae`
works from any folder, with the bundled sample; the README's Python lines run; and
`keras-mae-train` answers `--help` and pretrains from a config file given by its path."""

import os
import pathlib
import re
import subprocess
import sys
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SAMPLE = "keras_mae/assets/fashion_mnist/t10k-images-idx3-ubyte.gz"


def run(*command, cwd, status=0):
    """`command` in `cwd` with TensorFlow's logs down; its output, after checking its exit
    status."""
    result = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True,
                            text=True, timeout=900,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ""})
    assert result.returncode == status, (result.stdout[-2000:], result.stderr[-3000:])
    return result.stdout


def readme_python():
    """The README's "In Python" block, with `images` made first and one epoch instead of ten."""
    block = re.search(r"^## In Python\n+```python\n(.*?)^```", (REPO / "README.md").read_text(),
                      re.S | re.M)[1]
    return ("import numpy as np\n"
            "images = np.random.default_rng(0).normal(size=(16, 32, 32, 3)).astype('float32')\n"
            + block.replace("epochs=10", "epochs=1")
            + "assert tuple(features.shape) == (16, 128)\nprint(keras_mae.__file__)\n")


@pytest.mark.slow  # builds a wheel, makes a venv and trains twice: ~2 minutes
def test_the_wheel_works_from_outside_the_repository(tmp_path):
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp_path / "dist",
        REPO, cwd=tmp_path)
    wheel, = (tmp_path / "dist").glob("keras_mae-*.whl")
    assert SAMPLE in zipfile.ZipFile(wheel).namelist()
    venv = tmp_path / "venv"  # TensorFlow and the rest from this Python; keras_mae from the wheel
    run(sys.executable, "-m", "venv", "--system-site-packages", venv, cwd=tmp_path)
    run(venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "--quiet", wheel,
        cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    imported_from = run(venv / "bin" / "python", "-c", readme_python(), cwd=elsewhere)
    assert imported_from.strip().splitlines()[-1].startswith(str(venv))
    usage = run(venv / "bin" / "keras-mae-train", "--help", cwd=elsewhere, status=1)  # absl's
    assert "Pretrain a Masked Autoencoder" in usage and "--config: Run config file." in usage
    run(venv / "bin" / "keras-mae-train", "--config", REPO / "configs" / "quickstart.py",
        "--workdir", "run", "--config.epochs=1", "--config.steps_per_epoch=2",
        "--config.eval_steps=1", "--config.export_saved_model=False", cwd=elsewhere)
    assert (elsewhere / "run" / "model.keras").exists()  # trained on the wheel's sample
