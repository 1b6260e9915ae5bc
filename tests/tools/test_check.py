"""`python -m keras_mae.check`, the self-check for a new machine: on 2 logical CPU devices every
setup (1 and 2 devices, XLA off and on) ends with the reference's weights, and a distribution
bug (the replicas' gradients not summed) is caught as a mismatch."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_mae import check
from keras_mae.models import replicas

from conftest import REPO

# Each runs 5 trainings of a tiny MAE with XLA compilations: about a minute on 2 cores.
pytestmark = pytest.mark.slow


def test_the_self_check_passes_here_and_writes_its_table(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "keras_mae.check", "--json", str(tmp_path / "check.json"),
         "--steps", "2"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    report = json.loads((tmp_path / "check.json").read_text())
    setups = [(row["replicas"], row["xla"]) for row in report["rows"]]
    assert setups == [(1, "off"), (1, "on"), (2, "off"), (2, "on")]
    assert all(row["verdict"] == "ok" and row["images_per_sec"] > 0 for row in report["rows"])
    assert max(row["difference"] for row in report["rows"]) < 1e-5
    assert "| 2 devices | on | float32 |" in result.stdout
    assert "PASSED: 4 of 4 setups" in result.stdout


def test_replicas_whose_gradients_are_not_summed_are_a_mismatch(
        monkeypatch, restored_collective_keys):
    monkeypatch.setattr(replicas, "sum_over_replicas", lambda gradients: gradients)
    found = [("1 device", tf.distribute.OneDeviceStrategy("/cpu:0")),
             ("2 devices", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))]
    rows = check.run_checks(found, "", steps=2, batch_per_replica=4)["rows"]
    verdicts = {(row["replicas"], row["xla"]): row["verdict"] for row in rows}
    assert verdicts == {(1, "off"): "ok", (1, "on"): "ok",
                        (2, "off"): "MISMATCH", (2, "on"): "MISMATCH"}
    assert all(np.isfinite(row["difference"]) for row in rows)
