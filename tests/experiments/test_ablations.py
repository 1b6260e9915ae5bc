"""The ablations' results: the committed JSON has the issue's shape, and the results page's table is
generated from it and from the cost each variant measured beside MAE's."""

import json
import subprocess
import sys

from experiments.ablations import report, stages

from conftest import REPO

ENTRY_FIELDS = {"name", "group", "model", "command", "commit", "seed", "cpu", "wall_time_s",
                "train_images_per_sec", "peak_rss_mib", "curve", "knn_top1", "linear_probe_top1"}
MODEL_FIELDS = {"mask_ratio", "decoder_depth", "mask_token_in_encoder", "norm_pix_loss",
                "loss_on"}
GROUPS = {"mask_ratio", "decoder_depth", "mask_token_in_encoder", "target"}


def _record(knn, probe):
    curve = [{"epoch": 1, "loss": 0.9, "knn_top1": 0.3, "train_images_per_sec": 500.0}]
    common = {"command": "python train.py", "commit": "abc", "seed": 0, "cpu": "cpu",
              "wall_time_s": 10.0, "peak_rss_mib": 1000}
    return {f"{name}{suffix}": {**common, "curve": curve if not suffix else [], "result": result}
            for name, suffix, result in (("mae", "", {}), ("mae", "_knn", {"knn_top1": knn}),
                                         ("mae", "_linprobe", {"val_accuracy": probe}))}


def test_the_committed_json_has_every_field_and_the_readme_table_is_made_from_it():
    results = json.loads((REPO / "results" / "ablations.json").read_text())
    assert results["variants"], "no variant recorded"
    for entry in results["variants"]:
        assert ENTRY_FIELDS <= set(entry), ENTRY_FIELDS - set(entry)
        assert set(entry["model"]) == MODEL_FIELDS and entry["group"] in GROUPS
        for point in entry["curve"]:
            assert {"epoch", "loss"} <= set(point)
    assert report.results_table(results) in (REPO / "docs" / "results.md").read_text()


def test_the_table_shows_the_cost_measured_beside_mae_in_the_readme_beside_the_results(
        tmp_path):
    results_dir, readme = tmp_path / "results", tmp_path / "README.md"
    results_dir.mkdir()
    markers = "<!-- ablations-results -->\n{}\n<!-- /ablations-results -->\n"
    readme.write_text("# A checkout\n" + markers.format("old"))
    repo_readme = (REPO / "README.md").read_text()
    cost = {"cpu": "Test CPU, 2 CPUs", "batch": 256, "command": "python bench/ablation_cost.py",
            "variants": {"mae": {"model": {}, "flops_over_mae": 1.0, "time_over_mae": 1.0,
                                 "train_images_per_sec": 231.0, "peak_rss_mib": 1234},
                         "mask_ratio_0.9": {"model": {"mask_ratio": 0.9}, "flops_over_mae": 0.57,
                                            "time_over_mae": 0.67, "train_images_per_sec": 352.0,
                                            "peak_rss_mib": 1000}}}
    (results_dir / report.COST_FILE).write_text(json.dumps(cost))
    results = report.write(stages.VARIANTS, stages.BASE, _record(0.45, 0.43), results_dir, None)
    assert readme.read_text() == "# A checkout\n" + markers.format(report.results_table(results))
    assert (REPO / "README.md").read_text() == repo_readme  # only the results' own checkout
    table = report.results_table(results).splitlines()
    assert f"| mask_ratio | mae | 45.0 | 43.0 | {report.PAPER['mae']} |" in table
    # Every measured variant's cost, its accuracy still to come or not.
    assert "| mae | 1.00 | 1.00 | 231 | 1234 |" in table
    assert "| mask_ratio_0.9 | 0.57 | 0.67 | 352 | 1000 |" in table
    assert "Test CPU, 2 CPUs" in table[-1]
    written = json.loads((results_dir / "ablations.json").read_text())
    assert written["cost"] == cost
    assert written["variants"][0]["train_images_per_sec"] == 500.0  # the run's own speed


def test_without_a_cost_measurement_the_table_has_no_cost():
    results = report.variants(stages.VARIANTS, stages.BASE, _record(0.45, 0.43))
    table = report.results_table({"variants": results, "total_wall_time_s": 30.0})
    assert "| 45.0 | 43.0 |" in table and "ablation_cost" not in table


def test_the_plot_marks_the_untrained_encoder_from_the_proof_beside_the_results(tmp_path):
    assert report.untrained_knn(tmp_path) is None  # the proof has not run here
    summary = {"knn_top1": {"pretrained": 0.5, "random": 0.333}}
    (tmp_path / "cifar10.json").write_text(json.dumps({"summary": summary}))
    assert report.untrained_knn(tmp_path) == 0.333


def test_the_report_anew_from_the_recorded_stages_and_the_cost_is_the_committed_one(tmp_path):
    """bench/ablation_cost.py writes only results/ablation_cost.json; `run.py ablations
    --report-only` then rewrites the report from it and the recorded stages, running none."""
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    for name in (report.STAGES_FILE, report.COST_FILE, "cifar10.json"):
        (results_dir / name).write_text((REPO / "results" / name).read_text())
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "results.md").write_text((REPO / "docs" / "results.md").read_text())
    command = [sys.executable, "experiments/run.py", "ablations", "--report-only",
               f"--results={results_dir}", f"--runs={tmp_path / 'runs'}"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (tmp_path / "runs").exists()  # nothing ran, no data extracted
    committed = json.loads((REPO / "results" / "ablations.json").read_text())
    assert json.loads((results_dir / "ablations.json").read_text()) == committed
    assert (tmp_path / "docs" / "results.md").read_text() == (
        REPO / "docs" / "results.md").read_text()
