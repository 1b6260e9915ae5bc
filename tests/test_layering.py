"""The house rule of the developer folders: bench/ and experiments/ never import each other (what
both need lives in devtools/), and bench's modules import one another without a circle."""

import ast

from conftest import REPO


def imported_modules(path):
    """Every module the file at `path` imports, at its top or inside a function, dotted as
    written; `importlib.import_module(f"a.{b}...")` counts as importing `a`."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module"
              and node.args):
            name = node.args[0]
            if isinstance(name, ast.JoinedStr) and name.values:
                name = name.values[0]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                modules.add(name.value.rstrip("."))
    return modules


def bench_import_graph(repo):
    """{bench module: the bench modules it imports}; the benches import each other by bare
    name (bench/ is their script folder) or as `bench.<name>`."""
    names = {path.stem for path in (repo / "bench").glob("*.py")}
    graph = {}
    for name in names:
        imported = imported_modules(repo / "bench" / f"{name}.py")
        graph[name] = {module.removeprefix("bench.").split(".")[0] for module in imported
                       if module.removeprefix("bench.").split(".")[0] in names
                       and (module.startswith("bench.") or "." not in module)}
    return graph


def cycle(graph):
    """A list of modules that import one another in a circle, or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for following in sorted(graph[node]):
            if state.get(following) == "open":
                return path[path.index(following):] + [following]
            if following not in state:
                found = visit(following, path + [following])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def crossings(repo, folder, other):
    """(file, module) of every import of `other`'s code by a Python file under `folder`."""
    return sorted((str(path.relative_to(repo)), module)
                  for path in (repo / folder).rglob("*.py")
                  for module in imported_modules(path) if module.split(".")[0] == other)


def test_bench_and_experiments_never_import_each_other():
    assert crossings(REPO, "bench", "experiments") == []
    assert crossings(REPO, "experiments", "bench") == []
    # What both use comes from devtools/ (the check above sees their imports).
    assert "devtools.machine" in imported_modules(REPO / "experiments" / "stage.py")
    assert "devtools.ablation_variants" in imported_modules(REPO / "bench" / "ablation_cost.py")


def test_the_benches_import_one_another_without_a_circle():
    graph = bench_import_graph(REPO)
    assert {"rounds", "torch_reference"} <= graph["throughput"]  # the graph sees bare names
    assert "torch_reference" in graph["matmul_peak"]  # and imports inside functions
    assert cycle(graph) is None, " -> ".join(cycle(graph))


def test_the_cycle_finder_finds_a_circle_and_only_one():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
