"""The ablations' results: `results/ablations.json` (one entry per variant and group), the plot
`results/ablations.png` and the README's table, all from the stage records and, for the cost of
each variant measured on one machine, `results/ablation_cost.json` (bench/ablation_cost.py)."""

import json
import pathlib

from experiments.report import readme_beside, update_readme

# The paper's figures for the same ablations (ViT-L, 800 epochs, ImageNet-1k): linear probe /
# fine-tuning top-1, from table 1 and the text of section 4.1.
PAPER = {
    "mae": "73.5 / 84.9 (mask 75%, depth 8)",
    "mask_ratio_0.15": "54.6 linear at 10% (text)",
    "decoder_depth_1": "65.5 / 84.8",
    "decoder_depth_4": "71.9 / 84.9",
    "mask_token_in_encoder": "59.6 / 84.2, 3.3x FLOPs",
    "pixel_targets": "73.5 / 84.9 (norm-pix: 73.9 / 85.4)",
    "loss_on_all_patches": "~0.5 lower fine-tuning (sec. 3)",
    "bert_design": "not ablated in the paper",
}
PAPER_MASK_RATIO_LINEAR = {0.10: 54.6, 0.75: 73.5}  # the two points figure 5's text quotes
STAGES_FILE = "ablations_stages.json"  # every stage's record; ablations.json is made from it
COST_FILE = "ablation_cost.json"  # bench/ablation_cost.py: every variant's cost beside MAE's
FIELDS = {"mask_ratio": "mask_ratio", "decoder_num_layers": "decoder_depth",
          "mask_token_in_encoder": "mask_token_in_encoder", "norm_pix_loss": "norm_pix_loss",
          "loss_on": "loss_on"}


def variants(definitions, base, records):
    """The JSON's entries: one per (variant, group) whose pretraining stage finished."""
    entries = []
    for name, groups, fields in definitions:
        if name not in records:
            continue
        pretrain = records[name]
        stages = [records.get(f"{name}{suffix}") for suffix in ("", "_knn", "_linprobe")]
        speeds = [p["train_images_per_sec"] for p in pretrain["curve"]
                  if "train_images_per_sec" in p]
        entry = {
            "name": name,
            "model": {FIELDS[k]: v for k, v in {**base, **fields}.items()},
            "command": pretrain["command"],
            "commands": [s["command"] for s in stages if s],
            "commit": pretrain["commit"], "seed": pretrain["seed"], "cpu": pretrain["cpu"],
            "wall_time_s": round(sum(s["wall_time_s"] for s in stages if s), 1),
            "train_images_per_sec": round(sum(speeds) / len(speeds), 1) if speeds else None,
            "peak_rss_mib": pretrain.get("peak_rss_mib"),
            "curve": [{k: p[k] for k in ("epoch", "loss", "knn_top1") if k in p}
                      for p in pretrain["curve"]],
            "knn_top1": stages[1]["result"]["knn_top1"] if stages[1] else None,
            "linear_probe_top1": stages[2]["result"]["val_accuracy"] if stages[2] else None,
        }
        entries += [{**entry, "group": group} for group in groups]
    return entries


def recorded(results_dir):
    """{stage name: record} of the ablations' stages that `results_dir` holds."""
    path = pathlib.Path(results_dir) / STAGES_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def measured_cost(results_dir):
    """bench/ablation_cost.py's figures in `results_dir`, or None before it ran."""
    path = pathlib.Path(results_dir) / COST_FILE
    return json.loads(path.read_text()) if path.exists() else None


def write(definitions, base, records, results_dir, runs):
    """Merge `records` into the ablations' stage records and rewrite JSON, plot and table."""
    results_dir = pathlib.Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    stages = {**recorded(results_dir), **records}
    (results_dir / STAGES_FILE).write_text(json.dumps(stages, indent=2) + "\n")
    results = {"variants": variants(definitions, base, stages)}
    results["total_wall_time_s"] = round(sum(s["wall_time_s"] for s in stages.values()), 1)
    cost = measured_cost(results_dir)
    if cost:  # every variant's, measured on one machine, whether or not its runs ended
        results["cost"] = cost
    (results_dir / "ablations.json").write_text(json.dumps(results, indent=2) + "\n")
    draw(results, results_dir / "ablations.png")
    update_readme(readme_beside(results_dir), "ablations", results, results_table)
    return results


def results_table(results):
    """The README's tables: our accuracies (test top-1, %) by the paper's, then each variant's
    cost beside MAE's on one machine."""
    def percent(value):
        return "running" if value is None else f"{100 * value:.1f}"

    rows = ["| group | variant | k-NN | linear probe | paper, ViT-L: linear / fine-tune |",
            "| --- | --- | --- | --- | --- |"]
    for entry in results["variants"]:
        rows.append(f"| {entry['group']} | {entry['name']} | {percent(entry['knn_top1'])} | "
                    f"{percent(entry['linear_probe_top1'])} | {PAPER.get(entry['name'], '')} |")
    rows += ["", f"Total wall time of the runs: {results['total_wall_time_s'] / 3600:.1f} h."]
    if "cost" in results:
        cost = results["cost"]
        rows += ["", "| variant | training FLOPs (x MAE) | training time (x MAE) | "
                 "training images/s | peak RSS (MiB) |", "| --- | --- | --- | --- | --- |"]
        for name, figures in cost["variants"].items():
            rows.append(f"| {name} | {figures['flops_over_mae']:.2f} | "
                        f"{figures['time_over_mae']:.2f} | {figures['train_images_per_sec']:.0f} | "
                        f"{figures['peak_rss_mib']} |")
        rows += ["", f"Cost: `bench/ablation_cost.py`, each variant's training steps (batch "
                     f"{cost['batch']}, random images) in turns with MAE's on one machine "
                     f"({cost['cpu']}); FLOPs counted from the architecture."]
    return "\n".join(rows)


def draw(results, path):
    """k-NN and linear probe against the mask ratio, with the paper's points; bars for the
    other groups."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (ratio_axis, bars_axis) = pyplot.subplots(1, 2, figsize=(14, 4.5))
    ratios = sorted((e["model"]["mask_ratio"], e) for e in results["variants"]
                    if e["group"] == "mask_ratio")
    for field, label in (("knn_top1", "k-NN (ours)"), ("linear_probe_top1", "linear (ours)")):
        points = [(r, 100 * e[field]) for r, e in ratios if e[field] is not None]
        if points:
            ratio_axis.plot(*zip(*points), "o-", label=label)
    ratio_axis.plot(*zip(*PAPER_MASK_RATIO_LINEAR.items()), "s--", color="gray",
                    label="linear, paper ViT-L (fig. 5, quoted)")
    ratio_axis.set(title="masking ratio", xlabel="mask ratio", ylabel="top-1 (%)")
    ratio_axis.legend()
    others = [e for e in results["variants"] if e["group"] != "mask_ratio"
              and e["linear_probe_top1"] is not None]
    labels = [f"{e['group']}:\n{e['name']}" for e in others]
    bars_axis.bar(range(len(others)), [100 * e["linear_probe_top1"] for e in others])
    bars_axis.set_xticks(range(len(others)), labels, rotation=60, ha="right", fontsize=7)
    bars_axis.set(title="linear probe, other ablations", ylabel="top-1 (%)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
