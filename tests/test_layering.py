"""Imports flow one way: node -> federation -> storage -> protocol (docs/README.md)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "protocol": {"asyncio", "aiohttp", "aiosqlite", "storage", "federation", "node"},
    "storage": {"aiohttp", "federation", "node"},
    "federation": {"node"},
}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downwards(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {path: bad for path, bad in offenders.items() if bad} == {}


def test_checker_sees_imports() -> None:
    """The checker itself must find imports, or the test above could never fail."""
    assert {"aiohttp", "storage"} <= imported_roots(ROOT / "node" / "app.py")
