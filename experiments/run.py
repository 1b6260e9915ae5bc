"""Run an experiment's stages in order, each resumable, then write its results and report.

    python experiments/run.py cifar10                       # ~/keras_mae_runs/cifar10
    python experiments/run.py cifar10 --stages pretrain     # some stages only
    python experiments/run.py ablations --report-only       # the report anew, nothing run

A finished stage is skipped; an interrupted one (a killed process, an ended session) resumes
from its backup when the same command runs again. After every finished stage,
`results/<experiment>.json` and the report (plots, the README's table) are written anew.
On a machine without the runs folder (a new session, another computer), the stages recorded in
`--results` count as finished: only the others run, from the models the recorded stages
published there (pass an empty `--results` folder to re-run everything).
"""

import argparse
import importlib
import json
import pathlib
import shlex
import shutil
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devtools.cifar import CIFAR_ARCHIVE, extract_cifar  # noqa: E402
from experiments import stage  # noqa: E402

ARCHIVES = {"cifar10": CIFAR_ARCHIVE}  # by the data name an experiment's stages.DATA gives


def prepare_data(runs, data_name):
    """An experiment's image folders, extracted once from ../shared/data into the runs folder."""
    root = runs / "data" / data_name
    if not (root / ".complete").exists():
        print(f"extracting {ARCHIVES[data_name]} into {root}", flush=True)
        extract_cifar(ARCHIVES[data_name], root, per_class=10**9)
        (root / ".complete").touch()
    return root


def published_model(results_dir, experiment, stage_name):
    """Where a stage with `publish=True` leaves its final model."""
    return pathlib.Path(results_dir) / f"{experiment}_{stage_name}.keras"


def publish(model_file, target):
    """`model_file` without its optimizer state (a third of the size) as `target`: the encoder
    the later stages start from, and one a user can `keras_mae.load`."""
    import keras_mae  # TensorFlow, only when a stage publishes

    keras_mae.load(model_file).save(target)


def restore_recorded(stages, recorded, runs, results_dir, experiment):
    """Mark the `recorded` stages that have no work directory in `runs` finished (their
    `stage.json`, and the model they published): they are then skipped. A recorded stage whose
    model a stage still to run needs, but which published none, is left to run again."""
    to_run = [each for each in stages if each.name not in recorded]
    for each in stages:
        workdir = runs / each.name
        if each.name not in recorded or (workdir / "stage.json").exists():
            continue
        published = published_model(results_dir, experiment, each.name)
        if not published.exists() and any(later.init == each.name for later in to_run):
            continue
        workdir.mkdir(parents=True, exist_ok=True)
        if published.exists():
            shutil.copyfile(published, workdir / "model.keras")
        (workdir / "stage.json").write_text(json.dumps(recorded[each.name], indent=2))
        print(f"[{each.name}] recorded in {results_dir}: not re-run", flush=True)


def rewrite_report(experiment, runs, results_dir=REPO / "results"):
    """`results/<experiment>.json` and the report anew from the stages recorded there, running
    none (e.g. once bench/ablation_cost.py has measured the ablations' cost)."""
    definition = importlib.import_module(f"experiments.{experiment}.stages")
    return definition.write_report({}, results_dir, runs)


def run_experiment(experiment, runs, only=(), overrides=(), results_dir=REPO / "results"):
    """Run the stages of `experiments/<experiment>/stages.py` (or those in `only`); returns
    {stage name: record} of the finished ones."""
    definition = importlib.import_module(f"experiments.{experiment}.stages")
    data_root = prepare_data(runs, definition.DATA)
    recorded = definition.recorded(results_dir)
    restore_recorded(definition.STAGES, recorded, runs, results_dir, experiment)
    records = {}
    for each in definition.STAGES:
        if only and each.name not in only:
            continue
        records[each.name] = stage.run(each, REPO / "experiments" / experiment, runs,
                                       data_root, overrides)
        target = published_model(results_dir, experiment, each.name)
        if each.publish and (records[each.name] != recorded.get(each.name)
                             or not target.exists()):
            publish(runs / each.name / "model.keras", target)
        definition.write_report(records, results_dir, runs)
    return records


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", help="a folder of experiments/, e.g. cifar10")
    parser.add_argument("--runs", type=pathlib.Path, default=None,
                        help="work directories of the stages (default ~/keras_mae_runs/<name>)")
    parser.add_argument("--stages", default="", help="comma-separated stage names to run")
    parser.add_argument("--set", action="append", default=[],
                        help="a config override for every stage run, e.g. --set epochs=1")
    parser.add_argument("--results", type=pathlib.Path, default=REPO / "results",
                        help="where results/<experiment>.json and the plots go")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the results and report from the recorded stages; run none")
    args = parser.parse_args()
    runs = (args.runs or pathlib.Path.home() / "keras_mae_runs" / args.experiment).expanduser()
    if args.report_only:
        rewrite_report(args.experiment, runs.resolve(), args.results)
        return
    try:
        run_experiment(args.experiment, runs.resolve(),
                       [s for s in args.stages.split(",") if s], args.set, args.results)
    except subprocess.CalledProcessError as error:
        sys.exit(f"A stage failed (exit status {error.returncode}): {shlex.join(error.cmd)}\n"
                 "Fix what it printed and run the same command again: finished stages are "
                 "skipped and the failed one resumes from its backup.")


if __name__ == "__main__":
    main()
