"""The package's layering, read from its imports with `ast`: no cycles, no task importing another, lower never importing higher."""

import ast
import functools
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "lstm_keras"
TASKS = ("translation", "classification", "language_modeling", "question_answering", "synthetic")
# Folders that hold building blocks: they never import the tasks, the commands or the graders.
LOWER = ("layers", "decoding", "text", "datasets")
HIGHER = ("lstm_keras.models", "lstm_keras.commands", "lstm_keras.cli", "lstm_keras.grading")


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules():
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(path, modules):
    """Every `lstm_keras` module that `path` imports, anywhere in the file (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` imports the module; `from module import name`, the module.
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name.startswith("lstm_keras"):
                found.add(name)
                break
    return found


@functools.cache  # parsed once for every test of this file
def import_graph():
    modules = all_modules()
    return {name: imports(path, modules) - {name} for name, path in modules.items()}


def find_cycle(graph):
    """A list of modules that import each other in a ring, or None (depth-first search)."""
    state = {}
    for start in sorted(graph):
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                stack.pop()
                path.pop()
            elif state.get(child) == "open":
                return path[path.index(child):] + [child]
            elif child not in state:
                state[child] = "open"
                stack.append((child, iter(sorted(graph.get(child, ())))))
                path.append(child)
    return None


def test_the_graph_sees_real_imports():
    graph = import_graph()
    assert "lstm_keras.layers.gating" in graph["lstm_keras.layers.gated_lstm_cell"]
    assert "lstm_keras.models.translation.translator" in graph["lstm_keras.models.translation.export"] or \
        "lstm_keras.models.translation.translator" in graph["lstm_keras.models.translation"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    assert find_cycle(import_graph()) is None


@pytest.mark.parametrize("task", TASKS)
def test_no_task_imports_another(task):
    graph = import_graph()
    prefix = f"lstm_keras.models.{task}"
    others = [f"lstm_keras.models.{other}" for other in TASKS if other != task]
    offending = {
        module: sorted(name for name in imported if any(name == o or name.startswith(o + ".") for o in others))
        for module, imported in graph.items()
        if module == prefix or module.startswith(prefix + ".")
    }
    assert {module: names for module, names in offending.items() if names} == {}


def test_lower_folders_never_import_higher_ones():
    graph = import_graph()
    offending = {}
    for module, imported in graph.items():
        if module.split(".")[1:2] and module.split(".")[1] in LOWER:
            higher = sorted(name for name in imported if name.startswith(HIGHER))
            if higher:
                offending[module] = higher
        elif not module.startswith(("lstm_keras.commands", "lstm_keras.cli", "lstm_keras.__main__")):
            commands = sorted(name for name in imported if name.startswith(("lstm_keras.commands", "lstm_keras.cli")))
            if commands:
                offending[module] = commands
    assert offending == {}
