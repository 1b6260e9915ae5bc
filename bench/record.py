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
    path = RESULTS / f"{name}.json"  # an absolute `name` stays as given
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {path}")
    return path


def add_output_flag(parser):
    """`--output NAME` on a bench's command line: its figures also go to a record."""
    parser.add_argument("--output", metavar="NAME",
                        help="also write the figures to bench/results/NAME.json (NAME.json if "
                             "NAME is an absolute path), the record the docs are checked against")


def write_if_asked(args, figures):
    """Writes `figures` as the record `--output` names, if it names one, the host's kind
    ("amd", "intel") taken from the CPU's name."""
    if args.output:
        cpu = cpu_name().lower()
        host = next((kind for kind in ("amd", "intel") if kind in cpu), None)
        write_figures(args.output, figures, host=host)
