"""One stage of an experiment: a `train.py` run, resumable, skipped once finished, recorded with
its command, commit, seed, CPU, wall time and per-epoch curve."""

import dataclasses
import json
import os
import pathlib
import shlex
import subprocess
import sys
import time

from devtools.commit import commit
from devtools.machine import cpu_name

REPO = pathlib.Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Stage:
    """A stage: `config` (a file of the experiment's folder) on the `train` and `eval` parts of
    the data, starting from the model another stage (`init`) wrote, or from none."""

    name: str
    config: str
    train: str = "train"
    eval: str = "test"
    init: str = ""
    overrides: tuple = ()  # this stage's own --config.<field>=<value> settings
    publish: bool = False  # its final model goes to results/ (see run.publish), so that the
    # stages starting from it can run on another machine


def command(stage, experiment_dir, runs, data_root, overrides=()):
    """The `train.py` command line of `stage` (paths absolute, so that it can be re-run)."""
    line = [sys.executable, "train.py", f"--config={experiment_dir / stage.config}",
            f"--workdir={runs / stage.name}",
            f"--config.data.train={data_root / stage.train}",
            f"--config.data.eval={data_root / stage.eval}"]
    if stage.init:
        line.append(f"--config.init_checkpoint={runs / stage.init / 'model.keras'}")
    return line + [f"--config.{override}" for override in (*stage.overrides, *overrides)]


def run(stage, experiment_dir, runs, data_root, overrides=()):
    """Run `stage` unless it finished before (its `stage.json` exists); re-running an
    interrupted stage resumes it from its backup. Returns the stage's record."""
    workdir = runs / stage.name
    record_file = workdir / "stage.json"
    if record_file.exists():
        print(f"[{stage.name}] finished before: skipped", flush=True)
        return json.loads(record_file.read_text())
    line = command(stage, experiment_dir, runs, data_root, overrides)
    print(f"[{stage.name}] {shlex.join(line)}", flush=True)
    workdir.mkdir(parents=True, exist_ok=True)
    started = workdir / "started.json"  # the code a stage runs is the code it started with
    if not started.exists():
        started.write_text(json.dumps({"commit": commit()}))
    attempts = _attempts(workdir)
    attempts.append({"start": time.time(), "end": None})
    _save_attempts(workdir, attempts)
    process = subprocess.Popen(line, cwd=REPO)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, line)
    attempts[-1].update(end=time.time(), peak_rss_mib=round(usage.ru_maxrss / 1024))
    _save_attempts(workdir, attempts)
    record = _record(line, workdir)
    record_file.write_text(json.dumps(record, indent=2))
    return record


def _attempts(workdir):
    path = workdir / "attempts.json"
    return json.loads(path.read_text()) if path.exists() else []


def _save_attempts(workdir, attempts):
    (workdir / "attempts.json").write_text(json.dumps(attempts))


def wall_time(workdir):
    """Seconds spent on the stage over all its attempts. An attempt that was killed (no end)
    counts until the last file it wrote: the work after that was lost and redone."""
    attempts = _attempts(workdir)
    writes = sorted(path.stat().st_mtime for path in workdir.rglob("*") if path.is_file())
    total = 0.0
    for attempt, following in zip(attempts, attempts[1:] + [None]):
        until = following["start"] if following else float("inf")
        end = attempt["end"] or max(t for t in writes if t < until)
        total += end - attempt["start"]
    return total


def _record(line, workdir):
    config = json.loads((workdir / "config.json").read_text())
    record = {
        "command": shlex.join(line),
        "commit": json.loads((workdir / "started.json").read_text())["commit"],
        "seed": config["seed"],
        "cpu": cpu_name(),
        "wall_time_s": round(wall_time(workdir), 1),
        "peak_rss_mib": max(a.get("peak_rss_mib", 0) for a in _attempts(workdir)),
    }
    if (workdir / "knn.json").exists():  # a k-NN stage: one result, no epochs
        return {**record, "epochs": 0, "curve": [], "result": json.loads(
            (workdir / "knn.json").read_text())}
    history = json.loads((workdir / "history.json").read_text())
    curve = [{name: values[i] for name, values in history.items() if values[i] is not None}
             for i in range(len(history["epoch"]))]
    return {**record, "epochs": config["epochs"], "curve": curve, "result": curve[-1]}
