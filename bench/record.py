"""A bench's figures as JSON beside the prose that quotes them (bench/results/), with what
measured them: the command, commit, CPU and date. Docs are checked against these files."""

import datetime
import json
import pathlib
import shlex
import sys

from devtools.commit import commit
from devtools.machine import cpu_name

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def write_figures(name, figures, *, host=None):
    """Writes bench/results/<name>.json: `figures` (a JSON-able dict) and where they come from.
    `host` names the kind of machine ("amd", "intel") when the docs quote several."""
    record = {
        "bench": pathlib.Path(sys.argv[0]).name,
        "command": "python " + shlex.join(["bench/" + pathlib.Path(sys.argv[0]).name,
                                           *sys.argv[1:]]),
        "commit": commit(),
        "cpu": cpu_name(),
        "date": datetime.date.today().isoformat(),
        "host": host,
        "figures": figures,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {path.relative_to(RESULTS.parents[1])}")
    return path
