"""An experiment's results, written from its stage records: `results/<experiment>.json`, the
curves and reconstructions as PNGs, and the README's results table between its markers."""

import json
import pathlib
import subprocess
import sys

from devtools.markers import between_markers
from experiments import prose

REPO = pathlib.Path(__file__).resolve().parents[1]
# summary field: (its stage for the pretrained encoder, for the baseline, the stage's value)
SUMMARY = {
    "knn_top1": ("knn_pretrained", "knn_random", "knn_top1"),
    "linear_probe_top1": ("linprobe_pretrained", "linprobe_random", "val_accuracy"),
    "finetune_top1": ("finetune_pretrained", "finetune_scratch", "val_accuracy"),
}
BASELINES = {"knn_top1": "random", "linear_probe_top1": "random", "finetune_top1": "scratch"}
SELECTION_PREFIX = "select_probe_"  # stages that choose the probe's settings on held-out images
POOLINGS = {"cls": "cls token", "avg": "mean patch token"}
# Probe stages of the first protocol keep their records under this suffix: TF's crop sampler
# (smaller crops than the reference's) and Keras' BatchNorm momentum 0.99 (PyTorch's 0.01).
FIRST_PROTOCOL = "_tfcrop"
PROTOCOLS = {FIRST_PROTOCOL: "first protocol: TF's crops, BatchNorm momentum 0.99"}


def _protocol(name):
    """(stage name without its protocol suffix, the suffix: "" for the current protocol)."""
    if name.endswith(FIRST_PROTOCOL):
        return name.removesuffix(FIRST_PROTOCOL), FIRST_PROTOCOL
    return name, ""


def summary(stages):
    """{"knn_top1": {"pretrained": .., "random": ..}, ...}; None where a stage has not run."""
    def value(stage, field):
        return stages[stage]["result"].get(field) if stage in stages else None

    return {name: {"pretrained": value(pretrained, field), BASELINES[name]: value(base, field)}
            for name, (pretrained, base, field) in SUMMARY.items()}


def recorded(experiment, results_dir):
    """{stage name: record} of the stages `results_dir/<experiment>.json` holds."""
    path = pathlib.Path(results_dir) / f"{experiment}.json"
    return json.loads(path.read_text())["stages"] if path.exists() else {}


def write(experiment, records, results_dir, runs):
    """Merge `records` into `results_dir/<experiment>.json` and redraw the report from it."""
    results_dir = pathlib.Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    stages = {**recorded(experiment, results_dir), **records}
    results = {"summary": summary(stages), "stages": stages}
    (results_dir / f"{experiment}.json").write_text(json.dumps(results, indent=2) + "\n")
    draw_curves(results, results_dir / f"{experiment}_curves.png")
    reconstructions = results_dir / f"{experiment}_reconstructions.png"
    if "pretrain" in stages and not reconstructions.exists():
        draw_reconstructions(runs, reconstructions)
    pages = pages_beside(results_dir)
    update_pages(pages, f"{experiment}-summary", summary_table(results))
    update_pages(pages, f"{experiment}-results", results_table(results))
    prose.print_stale(pages, results_dir)
    return results


def _cell(value):
    return "running" if value is None else f"{100 * value:.1f}"


def summary_table(results):
    """The Markdown table of an experiment's summary (test top-1, in %): the front page's."""
    rows = ["| test top-1 (%) | pretrained with keras_mae | baseline | difference |",
            "| --- | --- | --- | --- |"]
    names = {"knn_top1": "k-NN (k=20, mean patch token)", "linear_probe_top1": "linear probe",
             "finetune_top1": "fine-tuning"}
    for field, label in names.items():
        values = results["summary"][field]
        pretrained, baseline = values["pretrained"], values[BASELINES[field]]
        difference = ("" if None in (pretrained, baseline)
                      else f"{100 * (pretrained - baseline):+.1f}")
        rows.append(f"| {label} | {_cell(pretrained)} | {_cell(baseline)} "
                    f"({BASELINES[field]} init) | {difference} |")
    return "\n".join(rows)


def results_table(results):
    """The results page's tables: the summary, the probe settings tried on held-out images, and
    every stage's epochs, wall time and CPU."""
    rows = [summary_table(results)]
    selection = {}  # {(pooling, lr): {protocol: held-out top-1}}
    for name, stage in results["stages"].items():
        if name.startswith(SELECTION_PREFIX):
            settings, protocol = _protocol(name.removeprefix(SELECTION_PREFIX))
            selection.setdefault(tuple(settings.split("_lr")), {})[protocol] = (
                stage["result"]["val_accuracy"])
    if selection:
        rows += ["", "| linear probe, chosen on held-out images (3 epochs) | held-out top-1 (%): "
                 f"the reference's crops, BatchNorm momentum 0.9 | {PROTOCOLS[FIRST_PROTOCOL]} |",
                 "| --- | --- | --- |"]
        for (pooling, lr), scores in selection.items():
            rows.append(f"| {POOLINGS[pooling]}, base lr {lr} | "
                        + " | ".join(_cell(scores[p]) if p in scores else "-"
                                     for p in ("", FIRST_PROTOCOL)) + " |")
    rows.append("")
    rows.append("| stage | epochs | wall time | CPU |")
    rows.append("| --- | --- | --- | --- |")
    for name, stage in results["stages"].items():
        rows.append(f"| {name} | {stage['epochs'] or '-'} | {stage['wall_time_s'] / 60:.0f} min "
                    f"| {stage['cpu']} |")
    return "\n".join(rows)


def pages_beside(results_dir):
    """The README and the guides (docs/*.md) of the checkout that holds `results_dir`
    (`<checkout>/results`), whose tables show those results, whichever checkout runs the
    stages."""
    root = pathlib.Path(results_dir).resolve().parent
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def update_pages(pages, marker, text):
    """Replace what stands between `<!-- <marker> -->` and `<!-- /<marker> -->` in each of
    `pages` by `text`; a page without those markers, or a missing one, is left alone."""
    for page in pages:
        updated = between_markers(page.read_text() if page.exists() else "", marker, text)
        if updated is not None:
            page.write_text(updated)


def draw_curves(results, path):
    """Pretraining loss and held-out k-NN per epoch; fine-tuning and probing accuracy per epoch
    for both initialisations."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot, ticker

    stages = results["stages"]
    figure, axes = pyplot.subplots(1, 3, figsize=(15, 4))
    pretrain = stages.get("pretrain", {}).get("curve", [])
    if pretrain:
        epochs = [point["epoch"] for point in pretrain]
        axes[0].plot(epochs, [p["loss"] for p in pretrain], label="training loss")
        axes[0].plot(epochs, [p.get("val_loss") for p in pretrain], label="held-out loss")
        knn = [(p["epoch"], 100 * p["knn_top1"]) for p in pretrain if "knn_top1" in p]
        twin = axes[0].twinx()
        twin.plot(*zip(*knn), "o-", color="tab:green", label="k-NN top-1 (held-out)")
        twin.set_ylabel("k-NN top-1 (%)")
        twin.legend(loc="center right")
    axes[0].set(title="MAE pretraining", xlabel="epoch", ylabel="loss (norm-pix MSE)")
    axes[0].legend(loc="upper right")
    for axis, task in zip(axes[1:], ("finetune", "linprobe")):
        for name, label in ((f"{task}_pretrained", "MAE-pretrained"),
                            (f"{task}_scratch", "from scratch"), (f"{task}_random", "random")):
            # A protocol run before it (records *_tfcrop: TF's crops) is drawn dashed beside it.
            for suffix, style, note in (("", "-", ""), ("_tfcrop", "--", " (TF's crops)")):
                curve = stages.get(name + suffix, {}).get("curve", [])
                if curve:
                    axis.plot([p["epoch"] for p in curve],
                              [100 * p["val_accuracy"] for p in curve], style,
                              color="tab:blue" if name.endswith("pretrained") else "tab:orange",
                              label=label + note)
        title = "fine-tuning" if task == "finetune" else "linear probe"
        axis.set(title=f"{title}: test top-1", xlabel="epoch", ylabel="top-1 (%)")
        axis.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        if axis.lines:  # stages still running have no curve yet
            axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def draw_reconstructions(runs, path):
    """The paper's figure for one test image of each class, by the pretrained model."""
    test = runs / "data" / "cifar10" / "test"
    images = [str(sorted(folder.iterdir())[0]) for folder in sorted(test.iterdir())]
    subprocess.run([sys.executable, "-m", "keras_mae.visualize",
                    f"--checkpoint={runs / 'pretrain' / 'model.keras'}",
                    f"--images={','.join(images)}", f"--num_images={len(images)}",
                    f"--output={path}"], cwd=REPO, check=True)
