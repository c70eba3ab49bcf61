"""The vendored front-end libraries are exactly the npm registry's files.

``deploy/vendor.py`` copies each pinned package's files out of its registry
tarball (checked against the registry's integrity) and writes ``VENDORED.json``
beside them with every file's SHA-256. These tests check the files on disk
against those manifests, that the manifests pin what ``deploy/vendor.py`` lists,
and that nothing unlisted lies in the vendor folders: a vendored file edited
by hand, added or left behind fails here. They need no network;
``python deploy/vendor.py --check`` compares with the registry itself.
"""

import base64
import hashlib
import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "node" / "web" / "static" / "vendor"
TESTS = ROOT / "tests" / "vendor"


def load_vendor_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendor_script", ROOT / "deploy" / "vendor.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def manifest(root: Path) -> list[dict[str, Any]]:
    packages: list[dict[str, Any]] = json.loads((root / "VENDORED.json").read_text())["packages"]
    return packages


@pytest.mark.parametrize("root", [STATIC, TESTS], ids=["static", "tests"])
def test_every_vendored_file_is_the_one_in_the_manifest(root: Path) -> None:
    listed: dict[Path, dict[str, Any]] = {}
    for package in manifest(root):
        for path, facts in package["files"].items():
            listed[root / package["name"] / path] = facts
    on_disk = {path for path in root.rglob("*") if path.is_file()} - {root / "VENDORED.json"}
    assert sorted(map(str, on_disk - listed.keys())) == [], "files not in VENDORED.json"
    assert sorted(map(str, listed.keys() - on_disk)) == [], "files missing"
    for path, facts in listed.items():
        data = path.read_bytes()
        assert len(data) == facts["bytes"], path
        assert hashlib.sha256(data).hexdigest() == facts["sha256"], f"{path} was changed"


@pytest.mark.parametrize("root", [STATIC, TESTS], ids=["static", "tests"])
def test_the_manifests_pin_what_the_vendor_script_lists(root: Path) -> None:
    script = load_vendor_script()
    wanted = [
        (package.name, package.version, sorted(package.files))
        for package in script.PACKAGES
        if package.root == root
    ]
    have = [
        (package["name"], package["version"], sorted(package["files"]))
        for package in manifest(root)
    ]
    assert have == wanted
    for package in manifest(root):
        assert re.fullmatch(r"\d+\.\d+\.\d+", package["version"]), package["version"]
        algorithm, _, digest = package["integrity"].partition("-")
        assert algorithm == "sha512"
        assert len(base64.b64decode(digest, validate=True)) == 64


def test_the_integrity_is_computed_as_npm_does() -> None:
    # npm's dist.integrity is an SRI string: the tarball's SHA-512, base64.
    expected = "sha512-" + base64.b64encode(hashlib.sha512(b"abc").digest()).decode()
    assert load_vendor_script().integrity(b"abc") == expected


def test_the_test_only_libraries_are_not_served() -> None:
    names = {package["name"] for package in manifest(TESTS)}
    assert "axe-core" in names
    assert not any((STATIC / name).exists() for name in names)
