"""docs/configs.md is what `python docs/configs.py` generates from the config functions and
their comments, so that it lists every field with its current default and meaning."""

from conftest import REPO, page_generator


def test_configs_page_is_up_to_date():
    assert (REPO / "docs" / "configs.md").read_text() == page_generator("configs").markdown(), (
        "docs/configs.md is stale: run `python docs/configs.py`")


def test_every_field_of_every_task_is_on_the_page():
    generator = page_generator("configs")
    page = (REPO / "docs" / "configs.md").read_text()
    for task, fields in generator.task_defaults().items():
        for field in fields:
            assert f"| `{field}` |" in page, (task, field)


def test_each_field_has_a_comment_of_its_own_beside_or_above_and_per_function():
    source = ("def f():\n"
              "    config.a = 1  # Beside.\n"
              "    # Above, over\n"
              "    # two lines.\n"
              "    config.b = 2\n"
              "    config.c = 3\n"
              "\n"
              "    config.d = 4\n"
              "    config.a = 5  # Beside.\n"
              "def g():\n"
              "    config.b = 6  # What b means here.\n")
    assert page_generator("configs").field_meanings(source) == {
        "a": "Beside.", "b": "Above, over two lines. In `g()`: What b means here."}
