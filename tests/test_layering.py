"""Imports flow one way (docs/architecture.md, "Import rules").

Between the top-level packages: node -> federation -> storage -> protocol.
Inside node: the JSON API (node.api) and the HTML pages (node.web) never import
each other; moderation, exports and osm serve both (or the CLI) and import neither, nor the CLI;
nothing but the CLI imports the CLI; and the process modules at node's top
import no subpackage, except node.app, which assembles them. protocol is pure:
it does no file, network or database I/O. No module imports itself back
through others (imports under ``TYPE_CHECKING`` and inside functions count: a
loop hidden there is still a loop), and no module is over 400 lines.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "storage", "federation", "node")
MAX_LINES = 400

# Modules a package's files may not import (a name forbids it and its submodules).
FORBIDDEN: dict[str, set[str]] = {
    "protocol": {
        "asyncio",
        "aiohttp",
        "aiosqlite",
        "sqlite3",
        "socket",
        "os",
        "io",
        "pathlib",
        "shutil",
        "tempfile",
        "storage",
        "federation",
        "node",
    },
    "storage": {"aiohttp", "federation", "node"},
    "federation": {"node"},
    "node/api": {"node.web", "node.cli", "node.desk"},
    "node/web": {"node.api", "node.cli", "node.desk"},
    "node/moderation": {"node.api", "node.web", "node.cli", "node.desk"},
    "node/exports": {"node.api", "node.web", "node.cli", "node.desk"},
    "node/osm": {"node.api", "node.web", "node.cli", "node.desk"},
    # The desk runs on a moderator's machine and talks to a node over HTTP only.
    "node/desk": {"node.api", "node.cli", "storage", "federation"},
}
SUBPACKAGES = (
    "node.api",
    "node.web",
    "node.cli",
    "node.moderation",
    "node.exports",
    "node.osm",
    "node.desk",
)
# The one process module that assembles the subpackages into the application.
ASSEMBLERS = {"node/app.py"}
# Builtins that touch files: protocol calls none of them.
FILE_BUILTINS = {"open"}


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, with its full dotted name (``from a import b`` adds
    ``a`` and ``a.b``, since ``b`` may be a submodule)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def violates(module: str, forbidden: set[str]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in forbidden)


def offenders(files: list[Path], forbidden: set[str]) -> dict[str, list[str]]:
    found = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if violates(m, forbidden)
        )
        for path in files
    }
    return {path: bad for path, bad in found.items() if bad}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downwards(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package} has no modules: the rule checks nothing"
    assert offenders(files, FORBIDDEN[package]) == {}


def test_only_the_cli_imports_the_cli() -> None:
    files = [
        path
        for package in ("node", "federation", "storage", "protocol")
        for path in sorted((ROOT / package).rglob("*.py"))
        if not path.is_relative_to(ROOT / "node" / "cli")
    ]
    assert offenders(files, {"node.cli"}) == {}


def test_process_modules_import_no_subpackage() -> None:
    """node's top (config, auth, logs, metrics, ...) sits below its subpackages."""
    files = [
        path
        for path in sorted((ROOT / "node").glob("*.py"))
        if str(path.relative_to(ROOT)) not in ASSEMBLERS
    ]
    assert offenders(files, set(SUBPACKAGES)) == {}


def test_no_server_code_imports_the_desk() -> None:
    """The node serves none of the desk's code: only the CLI starts it (docs/threat-model.md)."""
    files = [
        path
        for path in sorted((ROOT / "node").rglob("*.py"))
        if not path.is_relative_to(ROOT / "node" / "desk")
        and not path.is_relative_to(ROOT / "node" / "cli")
    ]
    assert offenders(files, {"node.desk"}) == {}


def test_protocol_opens_no_files() -> None:
    calls = {
        str(path.relative_to(ROOT)): node.lineno
        for path in sorted((ROOT / "protocol").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in FILE_BUILTINS
    }
    assert calls == {}


def test_checker_sees_imports() -> None:
    """The checker itself must find imports, or the tests above could never fail."""
    app = imported_modules(ROOT / "node" / "app.py")
    assert {"aiohttp", "storage.store", "node.web.report"} <= app
    assert violates("node.web.report", {"node.web"})
    assert not violates("node.webhooks", {"node.web"})
    assert offenders([ROOT / "node" / "app.py"], {"node.api"}) != {}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """``{module: the project's modules it imports}``. ``from a import b`` names the
    module ``a.b`` when there is one, else ``a``; a module's own packages are left
    out (importing a sibling through its package is no loop)."""
    modules = {
        module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for imported in imported_modules(path):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                found.add(imported)
        graph[name] = found
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """An import loop in ``graph``, as the modules it passes, or None."""
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


def test_no_import_loop() -> None:
    graph = import_graph()
    assert len(graph) > 100
    assert find_cycle(graph) is None


def test_cycle_finder_finds_loops() -> None:
    """The shape node/api/openapi.py and openapi_submissions.py once had is caught."""
    graph = {"openapi": {"parts", "submissions"}, "submissions": {"openapi"}, "parts": set()}
    assert find_cycle(graph) == ["openapi", "submissions", "openapi"]
    assert find_cycle({"openapi": {"submissions"}, "submissions": {"parts"}}) is None
    assert "storage.rollupadd" in import_graph()["storage.indexwrite"]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_over_400_lines(package: str) -> None:
    sizes = {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8").count("\n")
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {path: n for path, n in sizes.items() if n > MAX_LINES} == {}
