"""The measured figures of docs/performance.md, docs/pretraining.md, bench/README.md and the
README's speed row are those of the benches' records (bench/results/*.json): the tables are
what bench/figure_tables.py writes from them, and every other number with a unit is one a
record gives, as printed (bench/check_figures.py)."""

import json
import re

import pytest

from conftest import REPO, bench_module

RESULTS = REPO / "bench" / "results"


check_figures = bench_module("check_figures")
figure_tables = bench_module("figure_tables")


def test_every_figure_of_the_pages_is_one_a_bench_recorded():
    problems = check_figures.check()
    assert not problems, "\n".join(f"{page}: {number} {unit} is in no bench/results record: "
                                   f"{sentence}" for page, number, unit, sentence in problems)


def test_the_tables_are_what_the_records_give():
    for (page, name), markdown in figure_tables.tables().items():
        text = (REPO / page).read_text()
        assert figure_tables.filled(text, name, markdown) == text, (
            f"{page}'s figures:{name} table is stale: run `python bench/figure_tables.py`")


def test_every_record_says_what_measured_it():
    records = check_figures.records()
    assert len(records) >= 20
    for record in records:
        assert {"bench", "command", "commit", "cpu", "date", "host", "figures"} <= set(record)
        assert (REPO / "bench" / record["bench"]).exists(), record["name"]
        assert record["host"] in ("amd", "intel", None) and record["cpu"], record["name"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", record["date"]), record["name"]
        assert re.fullmatch(r"[0-9a-f]{7,40}", record["commit"]), record["name"]


def test_every_quoted_phrase_has_a_source_and_is_on_a_page():
    pages = " ".join(" ".join((REPO / page).read_text().split())
                     for page in check_figures.PAGES)
    for entry in json.loads((RESULTS / "quoted.json").read_text()):
        assert entry["source"] and " ".join(entry["phrase"].split()) in pages, entry


RECORDS = [{"figures": {"runs": [{"batch": 8, "keras_step_ms": [2645, 2951],
                                  "keras_max_rss_mb": 3767, "ratio_vs_torch": 1.094}]}}]


@pytest.mark.parametrize("text, wrong", [
    ("a step of 2,645-2,951 ms (2.71-3.02 images/s) at 3.7 GiB, 1.09x", []),
    ("a step of 2,645-2,950 ms", ["2,950"]),           # a step time typed wrong
    ("that is 2.83-3.02 images/s", ["2.83"]),          # images/s not from the step times
    ("peaks at 3.9 GiB", ["3.9"]),                     # GiB not from the MiB recorded
    ("1.10x the reference", ["1.10"]),                 # a ratio rounded the wrong way
    ("0.91x its speed, ~3,800 MiB", []),               # the inverse ratio; "~" within 10%
])
def test_a_figure_no_record_gives_is_named_with_its_line(text, wrong):
    values = check_figures.known_values(RECORDS)
    found = check_figures.disagreements("intro\n" + text + "\nmore", values)
    assert [number for number, _, _ in found] == wrong
    assert all(sentence == text for _, _, sentence in found)


def test_quoted_phrases_and_estimates_sections_are_not_checked():
    text = ("about 106 images/s per\nV100 here.\n<!-- estimates -->\n~40 min an epoch, "
            "12 GiB\n<!-- /estimates -->\n7 ms")
    found = check_figures.disagreements(text, check_figures.known_values(RECORDS),
                                        quoted=["106 images/s per V100"])
    assert [(number, unit) for number, unit, _ in found] == [("7", "ms")]


def test_a_new_record_enters_the_tables_ranges():
    records = check_figures.records()
    faster = {"bench": "throughput.py", "host": "amd", "date": "2099-01-01", "name": "new",
              "figures": {"runs": [{"preset": figure_tables.TINY, "batch": 128,
                                    "mode": "train", "keras_fastest_step_ms": [700],
                                    "torch_fastest_step_ms": [1050], "ratio_vs_torch": 1.5}]}}
    row = figure_tables.bench_readme_rows(records + [faster])[0]
    assert row[1] == "**1.19-1.50x** (700-916 against 1,015-1,130 ms)"
    remat = dict(faster, figures={"runs": [dict(faster["figures"]["runs"][0], remat=True)]})
    assert figure_tables.bench_readme_rows(records + [remat])[0] == (
        figure_tables.bench_readme_rows(records)[0])  # another configuration stays out
