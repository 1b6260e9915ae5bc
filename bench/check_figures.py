"""Checks the measured figures of the pages that quote the benches against bench/results/*.json:
every number with a unit (ms, s, MiB, GiB, images/s, GFLOP/s, x, %) must be a figure some
record holds, or derives, as printed (rounded to the digits shown). Numbers that are not
measurements (a setting, a paper's figure) are phrases of bench/results/quoted.json, each with
its source; a page's `<!-- estimates -->` ... `<!-- /estimates -->` sections are not checked.

    python bench/check_figures.py     # lists every figure no record gives, with its sentence
"""

import json
import re
from decimal import ROUND_HALF_UP, Decimal

from bench_common import REPO
from record import RESULTS

# The pages checked, and the lines of each that quote the benches (None: every line).
PAGES = {"docs/performance.md": None, "docs/pretraining.md": None, "bench/README.md": None,
         "README.md": r"^\| speed \|"}

_NUMBER = r"~?\d{1,3}(?:,\d{3})+(?:\.\d+)?|~?\d+(?:\.\d+)?"
_UNIT = {"ms": r" ?ms\b", "s": r" s\b", "MiB": r" MiB\b", "GiB": r" GiB\b",
         "images/s": r" (?:images/s\b|(?:[\w-]+ )?(?:images|JPEGs) per (?:core-)?second)",
         "GFLOP/s": r" GFLOP/s", "x": r"x\b", "%": r"%"}
# Numbers sharing one unit: "836-916 against 1,015-1,130 ms", "197-204 / 203-216 GFLOP/s".
_JOINED = rf"(?:{_NUMBER})(?:(?:-| / | against | and | to | or |, )(?:{_NUMBER}))*"
FIGURE = re.compile(rf"(?<![\w.,\-/:\[]){_JOINED}(?P<unit>{'|'.join(_UNIT.values())})")
_ESTIMATES = re.compile(r"<!-- estimates -->.*?<!-- /estimates -->", re.S)


def key_unit(key):
    """The unit of a record's figure, from its key's words ("step_ms" -> "ms"), or None."""
    words = key.lower().split("_")
    for unit, names in (("images/s", {"images"}), ("GFLOP/s", {"gflops"}), ("ms", {"ms"}),
                        ("MiB", {"mb", "mib"}), ("GiB", {"gib"}), ("%", {"percent"}),
                        ("s", {"s"}), ("x", {"ratio", "over", "speedup"})):
        if names & set(words):
            return unit
    return None


def known_values(records):
    """{unit: values} of every figure in `records` (JSON trees), with what follows from them:
    GiB of MiB, the inverse of a ratio, and images/s of a step time where a `batch` is given."""
    values = {unit: set() for unit in _UNIT}

    def walk(node, batch=None):
        if isinstance(node, dict):
            batch = node.get("batch", batch)
            for key, value in node.items():
                unit = key_unit(key)
                for number in _numbers(value) if unit else ():
                    values[unit].add(number)
                    if unit == "MiB":
                        values["GiB"].add(number / 1024)
                    elif unit == "x" and number:
                        values["x"].add(1 / number)
                    elif unit == "ms" and batch and number:
                        values["images/s"].add(batch * 1000 / number)
                walk(value, batch)
        elif isinstance(node, list):
            for item in node:
                walk(item, batch)

    for record in records:
        walk(record)
    return values


def _numbers(value):
    """The numbers of a figure: itself, or those of a list of them."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, (int, float))
                and not isinstance(item, bool)]
    return []


def figures(text):
    """(number as written, unit, sentence) of every number with a unit in `text`."""
    for match in FIGURE.finditer(text):
        unit = next(name for name, pattern in _UNIT.items()
                    if re.fullmatch(pattern, match["unit"]))
        for number in re.findall(_NUMBER, match[0][:match.start("unit") - match.start()]):
            yield number, unit, _sentence(text, match.start())


def _sentence(text, position):
    """The line (a table row or a line of prose) around `position`, shortened."""
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return text[start:end if end >= 0 else None].strip()[:160]


def fixed(value, digits=0):
    """`value` as the pages print it: rounded half up to `digits` decimals, thousands with
    commas (1015.0 -> "1,015", 1.335 -> "1.34")."""
    return f"{Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP):,}"


def given(number, unit, values):
    """Whether a figure written `number` (e.g. "2,645", "~0.24") is some value of `unit`
    rounded to the digits written; an approximate "~" one may lie within 10% of it."""
    bare = number.lstrip("~")
    if number.startswith("~"):
        written = float(bare.replace(",", ""))
        return any(abs(value - written) <= 0.1 * abs(value) for value in values[unit])
    digits = len(bare.split(".")[1]) if "." in bare else 0
    return any(fixed(value, digits) == bare for value in values[unit])


def disagreements(text, values, quoted=()):
    """(number, unit, sentence) of each figure in `text` that `values` does not give, once
    the quoted phrases (not measurements) and the estimates sections are taken out."""
    text = _ESTIMATES.sub("", text)
    for phrase in quoted:  # matched across line breaks: the pages wrap their prose
        text = re.sub(r"\s+".join(map(re.escape, phrase.split())), "", text)
    return [(number, unit, sentence) for number, unit, sentence in figures(text)
            if not given(number, unit, values)]


def page_text(path, lines):
    """The text of the page at `path` to check: its lines matching `lines`, or all of it."""
    text = path.read_text()
    if lines is None:
        return text
    return "\n".join(line for line in text.splitlines() if re.search(lines, line))


def records(results=RESULTS):
    """Every bench record of `results`, oldest first, each with its file's stem as `name`."""
    found = [{**json.loads(path.read_text()), "name": path.stem}
             for path in results.glob("*.json") if path.name != "quoted.json"]
    return sorted(found, key=lambda record: (record.get("date", ""), record["name"]))


def check(repo=REPO):
    """(page, number, unit, sentence) of every figure of PAGES that bench/results lacks."""
    results = repo / "bench" / "results"
    quoted = [entry["phrase"] for entry in json.loads((results / "quoted.json").read_text())]
    values = known_values(records(results))
    return [(page, *disagreement) for page, lines in PAGES.items()
            for disagreement in disagreements(page_text(repo / page, lines), values, quoted)]


if __name__ == "__main__":
    problems = check()
    for page, number, unit, sentence in problems:
        print(f"{page}: {number} {unit} not in bench/results: {sentence}")
    print(f"{len(problems)} figures without a record")
