"""Every figure of the prose of the README and the guides (docs/*.md) that comes from
results/*.json is the JSON's, rounded as the tables round it (experiments/prose.py lists them)."""

from experiments import prose

from conftest import REPO


def pages_text():
    """The README and the guides, where the results' prose lives."""
    return "\n".join(page.read_text() for page in (REPO / "README.md",
                                                    *sorted((REPO / "docs").glob("*.md"))))


def test_the_readme_prose_states_the_figures_the_results_json_holds():
    stale = prose.stale_phrases(pages_text(), REPO / "results")
    assert not stale, "\n".join(f"the JSON gives: {phrase}\nthe README has: {closest}"
                                for phrase, closest in stale)


def test_a_figure_typed_wrong_is_caught():
    readme = pages_text().replace("45.1 / 47.1 and probe",
                                                      "45.1 / 47.2 and probe")
    [(phrase, closest)] = prose.stale_phrases(readme, REPO / "results")
    assert "47.1" in phrase and "47.2" in closest


def test_the_phrases_cover_both_experiments():
    phrases = prose.phrases(REPO / "results")
    assert len(phrases) == len(set(phrases)) >= 25
