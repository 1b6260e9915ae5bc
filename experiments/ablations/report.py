"""The ablations' results: `results/ablations.json` (one entry per variant and group), the plot
`results/ablations.png` and the README's table, all from the stage records and, for the cost of
each variant measured on one machine, `results/ablation_cost.json` (bench/ablation_cost.py)."""

import json
import pathlib

from experiments import prose
from experiments.report import pages_beside, update_pages

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
    draw(results, results_dir / "ablations.png", untrained_knn(results_dir))
    update_pages(pages_beside(results_dir), "ablations-results", results_table(results))
    prose.print_stale(pages_beside(results_dir), results_dir)
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


def untrained_knn(results_dir):
    """The CIFAR-10 proof's k-NN top-1 of the same encoder untrained, or None before it ran: the
    floor a variant that learned nothing sits on (k-NN trains nothing, so it compares as is)."""
    path = pathlib.Path(results_dir) / "cifar10.json"
    return json.loads(path.read_text())["summary"]["knn_top1"]["random"] if path.exists() else None


def draw(results, path, floor=None):
    """Left: k-NN and linear probe against the mask ratio, with the paper's points. Right: every
    other variant's two accuracies as dots beside MAE's (dashed lines) and, if known, the
    untrained encoder's k-NN (`floor`, dotted)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    accuracies = (("knn_top1", "k-NN", "o"), ("linear_probe_top1", "linear probe", "s"))
    figure, (ratio_axis, dots_axis) = pyplot.subplots(1, 2, figsize=(14, 5))
    ratios = sorted((e["model"]["mask_ratio"], e) for e in results["variants"]
                    if e["group"] == "mask_ratio")
    for color, (field, label, marker) in enumerate(accuracies):
        points = [(r, 100 * e[field]) for r, e in ratios if e[field] is not None]
        if points:
            ratio_axis.plot(*zip(*points), f"{marker}-", color=f"C{color}", label=f"{label} (ours)")
    ratio_axis.plot(*zip(*PAPER_MASK_RATIO_LINEAR.items()), "s--", color="gray",
                    label="linear probe, paper ViT-L (fig. 5, quoted)")
    ratio_axis.set(title="masking ratio (CIFAR-10, micro ViT, 10 epochs)", xlabel="mask ratio",
                   ylabel="top-1 on the test images (%)")
    ratio_axis.legend()

    baseline = next((e for e in results["variants"] if e["name"] == "mae"), None)
    others = [e for e in results["variants"] if e["group"] != "mask_ratio" and e["name"] != "mae"]
    rows = range(len(others), 0, -1)  # top to bottom in the order of the variants
    for color, (field, label, marker) in enumerate(accuracies):
        shown = [(100 * e[field], row) for e, row in zip(others, rows) if e[field] is not None]
        if shown:
            dots_axis.plot(*zip(*shown), marker, color=f"C{color}", label=label)
        if baseline and baseline[field] is not None:
            dots_axis.axvline(100 * baseline[field], color=f"C{color}", linestyle="--",
                              label=f"MAE's {label}")
    if floor is not None:
        dots_axis.axvline(100 * floor, color="gray", linestyle=":", label="k-NN, untrained encoder")
    dots_axis.set_yticks(list(rows), [f"{e['name']}  ({e['group']})" for e in others])
    dots_axis.set(title="other ablations against MAE's design", xlabel="top-1 (%)",
                  ylim=(0.3, len(others) + 0.7))
    dots_axis.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
