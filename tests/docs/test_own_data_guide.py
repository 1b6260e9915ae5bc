"""docs/own-data.md as a reader follows it: every bash and Python block, in order, in a folder
laid out as its section 1 says, on real CIFAR-10 JPEGs. The `train.py` commands run as written
plus `QUICK`, which shortens them (fewer images per batch, one or two short epochs)."""

import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "own-data.md"
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```", re.S | re.M)
# Appended to each train.py command of the guide, by its task (the text after "configs/x.py:").
QUICK = {
    "pretrain": ["--config.batch_size=32", "--config.epochs=2", "--config.steps_per_epoch=2",
                 "--config.eval_steps=1", "--config.optim.warmup_epochs=1",
                 "--config.knn.bank_size=0", "--config.export_saved_model=False"],
    "finetune": ["--config.batch_size=32", "--config.epochs=1", "--config.steps_per_epoch=2",
                 "--config.optim.warmup_epochs=0"],
    "linprobe": ["--config.batch_size=32", "--config.epochs=1", "--config.steps_per_epoch=2",
                 "--config.optim.warmup_epochs=0", "--config.export_saved_model=False"],
    "knn": ["--config.batch_size=32"],
    "evaluate": ["--config.batch_size=10"],
}
STATS = "python -m keras_mae.data.stats"


def guide_blocks():
    """[(language, text)] of the guide's runnable blocks, in order."""
    return BLOCK.findall(GUIDE.read_text())


def quick(command):
    """A bash block's `train.py` command with the `QUICK` flags of its task appended (other
    commands as they are)."""
    if command.startswith(STATS):
        return command
    words = shlex.split(command.replace("\\\n", " "))
    config = next(word for word in words if word.startswith("configs/"))
    task = config.partition(":")[2] or "pretrain"
    return shlex.join(words + QUICK[task])


def lay_out(cifar, folder):
    """The guide's section 1 from CIFAR-10 JPEGs: flat unlabelled folders, labelled trees."""
    for name, images in (("my_images", sorted((cifar / "train").glob("*/*.jpg"))[::2]),
                         ("my_images_val", sorted((cifar / "test").glob("*/*.jpg"))[::2])):
        (folder / name).mkdir()
        for image in images:
            shutil.copyfile(image, folder / name / f"{image.parent.name}_{image.name}")
    shutil.copytree(cifar / "train", folder / "my_labels" / "train")
    shutil.copytree(cifar / "test", folder / "my_labels" / "val")
    shutil.copytree(cifar / "test", folder / "my_labels" / "test")
    for entry in ("train.py", "configs"):  # the commands run from the repository's root
        (folder / entry).symlink_to(REPO / entry)


def test_the_guide_has_the_blocks_this_test_expects():
    blocks = guide_blocks()
    commands = [text for language, text in blocks if language == "bash"]
    assert commands[0] == f"{STATS} my_images\n"
    commands = commands[1:]
    assert len(commands) == 6 and all(text.startswith("python train.py") for text in commands)
    assert {re.search(r"configs/own_images\.py(\S*)", text)[1] for text in commands} == {
        "", ":knn", ":finetune", ":linprobe", ":evaluate"}
    assert sum(language == "python" for language, _ in blocks) == 2


@pytest.mark.slow  # six train.py runs and two Python programs: several minutes
def test_every_block_of_the_guide_runs_in_order(small_cifar_folder, tmp_path):
    lay_out(small_cifar_folder, tmp_path)
    environment = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2",
                   "PATH": f"{pathlib.Path(sys.executable).parent}:{os.environ['PATH']}"}
    outputs = []
    for language, text in guide_blocks():
        line = ["bash", "-ec", quick(text)] if language == "bash" else [sys.executable, "-c", text]
        result = subprocess.run(line, cwd=tmp_path, env=environment, capture_output=True,
                                text=True, timeout=900)
        assert result.returncode == 0, f"{text}\n{result.stderr[-3000:]}"
        outputs.append(result.stdout)

    assert "--config.data.mean='(" in outputs[0]  # the stats command's lines to paste
    runs = tmp_path / "runs"
    assert (runs / "mine" / "model.keras").exists() and (runs / "mine" / "reconstructions.png"
                                                         ).exists()
    assert '"knn_top1"' in (runs / "mine_monitored" / "history.json").read_text()
    assert (runs / "mine_knn_random" / "knn.json").exists()
    assert (runs / "mine_finetuned" / "saved_model" / "saved_model.pb").exists()
    assert (runs / "mine_probe" / "model.keras").exists()
    assert '"top1"' in (runs / "mine_test" / "evaluation.json").read_text()
    predictions = [line for line in outputs[-2].splitlines() if " -> " in line]
    assert len(predictions) == 4  # the served classifier named a class for each test image
    assert (runs / "bands.keras").exists()


def guide_centre_crop():
    """The `centre_crop` function that the guide's section 6 defines, taken out of its block."""
    block = next(text for language, text in guide_blocks() if "def centre_crop" in text)
    imports, definition = block.split("\n\n\n")[:2]
    namespace = {}
    exec(f"{imports}\n{definition}", namespace)
    return namespace["centre_crop"]


@pytest.mark.parametrize("crop_fraction", [1.0, 0.875])
def test_the_guides_client_crops_as_evaluation_does(tmp_path, crop_fraction):
    """A client that squashed non-square images would feed the classifier shapes it never saw."""
    import numpy as np
    from PIL import Image

    from keras_mae.data.classification import centre_crop

    wide = np.random.default_rng(0).integers(0, 256, (6, 9, 3), dtype=np.uint8)
    wide = np.asarray(Image.fromarray(wide).resize((135, 90), Image.BICUBIC))  # smooth, 3:2
    Image.fromarray(wide).save(tmp_path / "wide.png")
    client = guide_centre_crop()(tmp_path / "wide.png", size=64, crop_fraction=crop_fraction)
    evaluation = np.asarray(centre_crop(wide, (64, 64), crop_fraction))
    squashed = np.asarray(Image.fromarray(wide).resize((64, 64), Image.BICUBIC), np.float32)
    assert client.shape == evaluation.shape == (64, 64, 3)
    assert np.abs(client - evaluation).mean() < 2.0
    assert np.abs(squashed - evaluation).mean() > 5 * np.abs(client - evaluation).mean()
