"""The command line, the OpenAPI document, moderation and exports keep their doors.

- nothing in ``node`` outside ``node/cli`` imports the CLI (the CLI imports the
  rest, never the other way: moderation and exports are used by the API too);
- the modules of ``node.api.openapi``, ``node.cli``, ``node.moderation`` and
  ``node.exports`` import each other without a cycle;
- none of their modules is over 400 lines.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("node/api/openapi", "node/cli", "node/moderation", "node/exports")
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, ``from a import b`` counted as ``a`` and ``a.b``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def room_modules() -> dict[str, Path]:
    return {module_name(p): p for room in ROOMS for p in sorted((ROOT / room).rglob("*.py"))}


def test_only_the_cli_imports_the_cli() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            n for n in imported_modules(path) if n.startswith("node.cli")
        )
        for path in sorted((ROOT / "node").rglob("*.py"))
        if not path.is_relative_to(ROOT / "node" / "cli")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of imports in ``graph`` (module -> modules it imports), or None."""
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> list[str] | None:
        if name in trail:
            return [*trail[trail.index(name) :], name]
        if name in done:
            return None
        for other in sorted(graph.get(name, ())):
            if (cycle := visit(other, [*trail, name])) is not None:
                return cycle
        done.add(name)
        return None

    for name in sorted(graph):
        if (cycle := visit(name, [])) is not None:
            return cycle
    return None


def test_rooms_import_without_cycles() -> None:
    modules = room_modules()
    graph = {
        # A module importing its own package (for a sibling module) is no cycle.
        name: {
            other
            for other in imported_modules(path)
            if other in modules and other != name and not name.startswith(other + ".")
        }
        for name, path in modules.items()
    }
    assert find_cycle(graph) is None


@pytest.mark.parametrize("room", ROOMS)
def test_no_module_is_over_400_lines(room: str) -> None:
    sizes = {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8").count("\n")
        for path in sorted((ROOT / room).rglob("*.py"))
    }
    assert {path: n for path, n in sizes.items() if n > MAX_LINES} == {}


def test_checker_sees_a_cycle() -> None:
    """The shape node/api/openapi.py and openapi_submissions.py once had must be caught."""
    graph = {"openapi": {"parts", "submissions"}, "submissions": {"openapi"}, "parts": set()}
    assert find_cycle(graph) == ["openapi", "submissions", "openapi"]
    assert find_cycle({"openapi": {"submissions"}, "submissions": {"parts"}}) is None
    assert "node.api.openapi.parts" in imported_modules(ROOT / "node/api/openapi/records.py")
