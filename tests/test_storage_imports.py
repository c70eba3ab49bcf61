"""No import loop within ``storage``: its modules form a DAG, imports under
``TYPE_CHECKING`` and inside functions included (a loop hidden there is still a loop)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_within(package: str) -> dict[str, set[str]]:
    """``{module: the modules of package it imports}``; ``from storage import x`` names
    the module ``storage.x`` when there is one, else the package itself."""
    modules = {module_name(p): p for p in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    if submodule in modules:
                        found.add(submodule)
                    elif node.module in modules:
                        found.add(node.module)
        graph[name] = found - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import loop per strongly connected part of ``graph`` that has one."""
    found: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_storage_has_no_import_loop() -> None:
    assert cycles(imports_within("storage")) == []


def test_the_walk_finds_loops_and_storage_imports() -> None:
    """The check above could never fail if the walk saw no imports or no loops."""
    graph = imports_within("storage")
    assert "storage.database" in graph["storage.store"]
    assert "storage" in graph["storage.database"]  # from storage import SchemaVersionError
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
