"""Ctrl-C: the run stops at the next step, backs up the state reached, says how to resume; the
same command resumes."""

import json
import pathlib
import re
import signal
import subprocess
import sys
import time

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mae import MaskedAutoencoder
from keras_mae.errors import Interrupted
from keras_mae.training.callbacks.backup import AtomicBackupAndRestore
from keras_mae.training.callbacks.stopping import StopOnInterrupt

from conftest import make_mae

REPO = pathlib.Path(__file__).resolve().parents[2]


class CtrlCAt(keras.callbacks.Callback):
    """Sends this process a SIGINT (as Ctrl-C does) at the end of training step `step`."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == self.step:
            signal.raise_signal(signal.SIGINT)


def handler_found_before(signum, frame):
    raise AssertionError("Ctrl-C reached the handler installed before the run")


def test_ctrl_c_stops_at_the_next_step_and_backs_up_the_state_reached(tiny_config, tmp_path):
    images = np.random.default_rng(0).normal(size=(4, 16, 24, 3)).astype("float32")
    model = make_mae(**tiny_config)
    model.compile(optimizer="adamw", jit_compile=False)
    backup = AtomicBackupAndRestore(str(tmp_path / "backup"))
    interrupt = StopOnInterrupt(backup)
    # Whatever handler the run finds (Python's default, or SIG_IGN under a shell that runs
    # the tests in the background), it gives it back: here one of the test's own.
    original = signal.signal(signal.SIGINT, handler_found_before)
    try:
        with pytest.raises(Interrupted, match="Ctrl-C in epoch 2, after step 6.*Resume with "
                                              "the same command"):
            with interrupt.catching_interrupts():
                model.fit(tf.data.Dataset.from_tensors(images).repeat(), epochs=3,
                          steps_per_epoch=3, verbose=0,
                          callbacks=[interrupt, backup, CtrlCAt(step=5)])
        assert signal.getsignal(signal.SIGINT) is handler_found_before
    finally:
        signal.signal(signal.SIGINT, original)
    newest = max((tmp_path / "backup").glob("state-*"), key=lambda p: int(p.name.split("-")[1]))
    assert json.loads((newest / "training_metadata.json").read_text())["epoch"] == 1  # mid-epoch 2
    with h5py.File(newest / "model.weights.h5") as weights:
        assert int(weights["optimizer/vars/0"][()]) == 6  # the optimizer's step counter


@pytest.mark.slow
def test_ctrl_c_on_train_py_exits_cleanly_and_the_same_command_resumes(cifar_folder, tmp_path,
                                                                      child_processes):
    workdir = tmp_path / "run"
    command = [
        sys.executable, "train.py", "--config", "configs/cifar10.py", "--workdir", str(workdir),
        f"--config.data.train={cifar_folder}/train", f"--config.data.eval={cifar_folder}/test",
        "--config.model.preset=mae_vit_micro_patch4_32", "--config.batch_size=64",
        "--config.eval_steps=1", "--config.num_figure_images=2", "--config.epochs=3",
        "--config.steps_per_epoch=40", "--config.optim.warmup_epochs=1",
    ]
    first = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    child_processes.append(first)  # killed if the test ends before it does
    deadline = time.time() + 400
    while not (workdir / "checkpoints" / "epoch_001.keras").exists():
        assert first.poll() is None and time.time() < deadline, "first run ended early"
        time.sleep(0.2)
    # Epoch 1 has ended (its checkpoint is written after its evaluation): the run stops after
    # the first step of epoch 2 however fast the machine is.
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stderr[-3000:]
    last_line = stderr.strip().splitlines()[-1]
    stopped = re.fullmatch(r"interrupted: Stopped by Ctrl-C in epoch 2, after step (\d+); the "
                           r"state is backed up in .*backup\. Resume with the same command.*",
                           last_line)
    assert stopped, last_line
    step = int(stopped.group(1))
    assert 40 < step < 80 and "Traceback" not in stderr
    assert not (workdir / "model.keras").exists()
    newest = max((workdir / "backup").glob("state-*"), key=lambda p: int(p.name.split("-")[1]))
    backup = json.loads((newest / "training_metadata.json").read_text())
    assert (backup["epoch"], backup["step"]) == (1, step - 40)  # inside epoch 2

    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert re.findall(r"Epoch (\d)/3", second.stdout) == ["2", "3"]
    model = keras.models.load_model(workdir / "model.keras")
    assert int(model.optimizer.iterations) == 3 * 40  # epoch 2 went on at its next example
