"""The experiment runner: stages resume after a kill, finished ones are skipped, and what they
record is what the README's results are generated from."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from experiments import report, run, stage
from experiments.stage import Stage

from conftest import REPO

SMOKE = ["epochs=2", "steps_per_epoch=2", "batch_size=32", "eval_steps=2", "knn.bank_size=64",
         "knn.every_epochs=1", "figure_every_epochs=1", "jit_compile=False"]  # XLA: elsewhere


def _backed_up_epoch(workdir):
    states = sorted(workdir.glob("backup/state-*/training_metadata.json"))
    return max((json.loads(s.read_text())["epoch"] for s in states), default=0)


@pytest.mark.slow  # ~70 s: stages of train.py killed and run again
def test_a_killed_stage_resumes_and_a_finished_one_is_skipped(cifar_folder, tmp_path):
    pretrain = Stage("pretrain", "pretrain.py", train="train[:3600]", eval="train[3600:]")
    experiment_dir = REPO / "experiments" / "cifar10"
    runner = ("import sys; sys.path.insert(0, {repo!r})\n"
              "from experiments import stage\n"
              "from experiments.stage import Stage\n"
              "import pathlib\n"
              "stage.run(Stage('pretrain', 'pretrain.py', train='train[:3600]', "
              "eval='train[3600:]'), pathlib.Path({exp!r}), pathlib.Path({runs!r}), "
              "pathlib.Path({data!r}), {smoke!r})").format(
        repo=str(REPO), exp=str(experiment_dir), runs=str(tmp_path), data=str(cifar_folder),
        smoke=SMOKE)
    first = subprocess.Popen([sys.executable, "-c", runner], cwd=REPO, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while _backed_up_epoch(tmp_path / "pretrain") < 1 and first.poll() is None:
            assert time.monotonic() < deadline, "no backup of epoch 1 within 300 s"
            time.sleep(0.2)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the runner and its train.py
        first.wait()
    assert not (tmp_path / "pretrain" / "stage.json").exists()

    record = stage.run(pretrain, experiment_dir, tmp_path, cifar_folder, SMOKE)
    assert [point["epoch"] for point in record["curve"]] == [1, 2]  # epoch 1 kept
    assert all("knn_top1" in point and "loss" in point for point in record["curve"])
    attempts = json.loads((tmp_path / "pretrain" / "attempts.json").read_text())
    assert len(attempts) == 2 and attempts[0]["end"] is None
    assert record["wall_time_s"] > attempts[1]["end"] - attempts[1]["start"]
    for field in ("command", "commit", "seed", "cpu", "wall_time_s", "epochs", "curve"):
        assert field in record, field

    stage_file = tmp_path / "pretrain" / "stage.json"
    written = stage_file.stat().st_mtime_ns
    assert stage.run(pretrain, experiment_dir, tmp_path, cifar_folder, SMOKE) == record
    assert stage_file.stat().st_mtime_ns == written  # skipped: nothing ran or was rewritten


def test_a_knn_stage_records_its_result_and_the_seed_it_ran_with(cifar_folder, tmp_path):
    knn = Stage("knn_random", "knn.py", train="train[:300]", eval="test[:260]")
    record = stage.run(knn, REPO / "experiments" / "cifar10", tmp_path, cifar_folder)
    result = json.loads((tmp_path / "knn_random" / "knn.json").read_text())
    assert record["result"] == result and record["epochs"] == 0 and record["seed"] == 0
    assert result["bank_size"] == 300 and result["queries"] == 260


def test_every_experiments_data_has_an_archive_to_extract():
    from experiments.ablations import stages as ablations
    from experiments.cifar10 import stages as cifar10

    for definition in (cifar10, ablations):
        assert run.ARCHIVES[definition.DATA].name.endswith(".tar.gz")


def test_the_readme_table_is_generated_from_the_committed_results():
    results_file = REPO / "results" / "cifar10.json"
    results = (json.loads(results_file.read_text()) if results_file.exists()
               else {"summary": report.summary({}), "stages": {}})  # before any stage ended
    assert set(results["summary"]) == {"knn_top1", "linear_probe_top1", "finetune_top1"}
    for stage_record in results["stages"].values():
        for field in ("command", "commit", "seed", "cpu", "wall_time_s", "epochs", "curve"):
            assert field in stage_record, field
    assert report.results_table(results) in (REPO / "docs" / "results.md").read_text()
    assert report.summary_table(results) in (REPO / "README.md").read_text()


def test_the_summary_pairs_each_pretrained_stage_with_its_baseline():
    stages = {"knn_pretrained": {"result": {"knn_top1": 0.5}},
              "knn_random": {"result": {"knn_top1": 0.3}},
              "finetune_scratch": {"result": {"val_accuracy": 0.6}}}
    assert report.summary(stages) == {
        "knn_top1": {"pretrained": 0.5, "random": 0.3},
        "linear_probe_top1": {"pretrained": None, "random": None},
        "finetune_top1": {"pretrained": None, "scratch": 0.6},
    }


def test_the_table_shows_the_probe_settings_tried_on_held_out_images():
    record = {"epochs": 3, "wall_time_s": 60.0, "cpu": "cpu", "result": {"val_accuracy": 0.443}}
    table = report.results_table({"summary": report.summary({}),
                                  "stages": {"select_probe_avg_lr30": record}})
    assert "| mean patch token, base lr 30 | 44.3 |" in table
    assert "| select_probe_avg_lr30 | 3 | 1 min | cpu |" in table


PROOF = (Stage("pretrain", "pretrain.py", publish=True),
         Stage("knn_pretrained", "knn.py", init="pretrain"), Stage("knn_random", "knn.py"),
         Stage("linprobe_pretrained", "linprobe.py", init="pretrain"))


def test_on_a_new_machine_the_recorded_stages_are_not_re_run(tmp_path):
    recorded = {name: {"command": name, "result": {"knn_top1": 0.5}}
                for name in ("pretrain", "knn_pretrained")}
    results, runs = tmp_path / "results", tmp_path / "runs"
    results.mkdir()
    run.published_model(results, "proof", "pretrain").write_bytes(b"the pretrained model")
    run.restore_recorded(PROOF, recorded, runs, results, "proof")
    for name in recorded:
        assert json.loads((runs / name / "stage.json").read_text()) == recorded[name]
    assert (runs / "pretrain" / "model.keras").read_bytes() == b"the pretrained model"
    assert not (runs / "knn_random").exists() and not (runs / "linprobe_pretrained").exists()


def test_a_recorded_stage_runs_again_if_a_later_stage_needs_the_model_it_did_not_publish(
        tmp_path):
    recorded = {name: {"command": name} for name in ("pretrain", "knn_pretrained")}
    runs = tmp_path / "runs"
    run.restore_recorded(PROOF, recorded, runs, tmp_path, "proof")  # nothing published
    assert not (runs / "pretrain").exists()  # linprobe_pretrained will need its model
    assert (runs / "knn_pretrained" / "stage.json").exists()  # no stage starts from it


@pytest.mark.slow  # ~45 s: a chain of train.py stages
def test_a_published_model_is_the_model_without_its_optimizer_and_later_stages_start_from_it(
        cifar_folder, tmp_path):
    from keras_mae import MaskedAutoencoder

    model = MaskedAutoencoder.from_preset("mae_vit_micro_patch4_32", seed=0)
    model.compile(jit_compile=False)
    model.fit(np.random.default_rng(0).normal(size=(8, 32, 32, 3)).astype("float32"),
              epochs=1, batch_size=4, verbose=0)
    trained = tmp_path / "trained.keras"
    model.save(trained)
    published = run.published_model(tmp_path / "results", "cifar10", "pretrain")
    published.parent.mkdir()
    run.publish(trained, published)
    assert published.stat().st_size < trained.stat().st_size / 2  # no AdamW moments

    runs = tmp_path / "runs"
    run.restore_recorded(PROOF, {"pretrain": {"command": "pretrained elsewhere"}}, runs,
                         published.parent, "cifar10")
    knn = Stage("knn_pretrained", "knn.py", train="train[:300]", eval="test[:260]",
                init="pretrain")
    stage.run(knn, REPO / "experiments" / "cifar10", runs, cifar_folder)
    config = json.loads((runs / "knn_pretrained" / "config.json").read_text())
    assert config["init_checkpoint"] == str(runs / "pretrain" / "model.keras")
    restored = MaskedAutoencoder.from_preset("mae_vit_micro_patch4_32", seed=1)
    restored.load_weights(runs / "pretrain" / "model.keras")
    for mine, theirs in zip(restored.weights, model.weights):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
