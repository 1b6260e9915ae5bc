"""The fine-tuning guide's evaluate and k-NN commands (docs/finetuning.md) run as written, from a folder laid out as they assume
(configs/, cifar10/{train,test} of real JPEGs, the checkpoints under runs/)."""

import json
import re
import shlex
import subprocess
import sys

import pytest

from keras_mae import MaskedAutoencoder, ViTBackbone, ViTClassifier

from conftest import REPO, extract_cifar

SMALL = dict(image_size=32, patch_size=8, num_channels=3, hidden_dim=32, num_layers=1,
             num_heads=2, mlp_dim=64)


def readme_commands(marker):
    """The `python train.py` commands of docs/finetuning.md's bash blocks that contain `marker`, with
    their continuation lines joined."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "docs" / "finetuning.md").read_text(), re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    return [line.split("#")[0].strip() for line in lines
            if line.startswith("python train.py") and marker in line]


def test_the_readme_has_both_commands():
    assert len(readme_commands("--config.task=evaluate")) == 1
    assert len(readme_commands(".py:knn")) == 1


@pytest.mark.slow
def test_the_readme_evaluate_and_knn_commands_run_as_written(tmp_path):
    # 2,080 training and 520 held-out images: the commands' batch (512) fits in each.
    extract_cifar(tmp_path / "cifar10", per_class=208)
    (tmp_path / "configs").symlink_to(REPO / "configs")
    (tmp_path / "train.py").symlink_to(REPO / "train.py")
    backbone = ViTBackbone(**SMALL, name="backbone")
    (tmp_path / "runs" / "c10_ft").mkdir(parents=True)
    ViTClassifier(backbone, num_classes=10).save(tmp_path / "runs" / "c10_ft" / "model.keras")
    (tmp_path / "runs" / "cifar10").mkdir()
    MaskedAutoencoder(ViTBackbone(**SMALL, name="backbone"), decoder_hidden_dim=16,
                      decoder_num_layers=1, decoder_num_heads=2, decoder_mlp_dim=32,
                      ).save(tmp_path / "runs" / "cifar10" / "model.keras")
    for marker, result in (("--config.task=evaluate", "evaluation.json"),
                           (".py:knn", "knn.json")):
        [command] = readme_commands(marker)
        arguments = shlex.split(command)
        completed = subprocess.run([sys.executable, *arguments[1:]], cwd=tmp_path,
                                   capture_output=True, text=True, timeout=600)
        assert completed.returncode == 0, completed.stderr[-3000:]
        workdir = tmp_path / arguments[arguments.index("--workdir") + 1]
        written = json.loads((workdir / result).read_text())
        assert 0 <= written.get("top1", written.get("knn_top1", -1)) <= 1, written
