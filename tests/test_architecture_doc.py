"""docs/architecture.md names only modules that exist, and every package and subpackage."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
PACKAGES = ("protocol", "storage", "federation", "node")


def test_every_module_path_it_names_exists() -> None:
    named = set(re.findall(r"`((?:protocol|storage|federation|node)/[\w/]+\.py)`", PAGE))
    assert len(named) > 30
    assert sorted(path for path in named if not (ROOT / path).is_file()) == []


def test_every_dotted_module_it_names_exists() -> None:
    named = set(re.findall(r"`((?:protocol|storage|federation|node)(?:\.\w+)+)", PAGE))
    missing = []
    for dotted in named:
        parts = dotted.split(".")
        # The longest prefix that is a module or package; the rest are attributes.
        found = any(
            (ROOT.joinpath(*parts[:n]).with_suffix(".py")).is_file()
            or (ROOT.joinpath(*parts[:n]) / "__init__.py").is_file()
            for n in range(2, len(parts) + 1)
        )
        if not found:
            missing.append(dotted)
    assert sorted(missing) == []


def test_every_subpackage_is_described() -> None:
    subpackages = {
        str(init.parent.relative_to(ROOT))
        for package in PACKAGES
        for init in (ROOT / package).rglob("__init__.py")
        if init.parent.parent != ROOT
    }
    assert subpackages, "the walk finds subpackages"
    undescribed = sorted(
        p for p in subpackages if f"`{p}/`" not in PAGE and f"{p.split('/')[-1]}/" not in PAGE
    )
    assert undescribed == []


def test_every_top_level_module_of_node_is_described() -> None:
    modules = {p.name for p in (ROOT / "node").glob("*.py") if p.name != "__init__.py"}
    assert sorted(m for m in modules if f"node/{m}" not in PAGE) == []
