"""Every relative link of the project's Markdown pages resolves: the file exists and, for a
`#fragment`, the target page has a heading with that anchor (GitHub's slugs)."""

import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PAGES = sorted([REPO / "README.md", REPO / "ARCHITECTURE.md", *REPO.glob("docs/**/*.md"),
                *REPO.glob("bench/*.md")])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def github_anchor(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as dashes."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page):
    """The anchors of `page`'s headings (repeats get -1, -2 as on GitHub)."""
    seen, result = {}, set()
    for line in FENCE.sub("", page.read_text()).splitlines():
        if line.startswith("#"):
            anchor = github_anchor(line.lstrip("#"))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            result.add(anchor if count == 0 else f"{anchor}-{count}")
    return result


def relative_links(page):
    """The relative links of `page` outside code blocks."""
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if not re.match(r"[a-z]+:", target):
            yield target


def test_github_anchors_follow_githubs_rule():
    assert github_anchor(" Scaling: one CPU, GPUs, several hosts, TPUs") == (
        "scaling-one-cpu-gpus-several-hosts-tpus")
    assert github_anchor("Loading: one way in") == "loading-one-way-in"
    assert github_anchor("What `train.py` writes") == "what-trainpy-writes"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO)))
def test_relative_links_resolve(page):
    broken = []
    for target in relative_links(page):
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif fragment and file.suffix == ".md" and fragment not in anchors(file):
            broken.append(f"{target}: no heading with that anchor in {file.name}")
    assert not broken, f"{page.relative_to(REPO)}: " + "; ".join(broken)
