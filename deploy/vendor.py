"""Vendor the site's front-end libraries from the npm registry, at pinned versions.

    python deploy/vendor.py            # fetch, verify, extract, rewrite the manifests
    python deploy/vendor.py --check    # fetch, verify, compare with the files here; change nothing

The node serves everything its pages use from its own origin (no page may make a
request to another origin), so the few JavaScript libraries the pages need are
copied into the repository: under ``node/web/static/vendor/<package>/`` for what
the node serves, under ``tests/vendor/<package>/`` for what only the tests use
(axe-core). :data:`PACKAGES` pins each package's exact version and the files taken
from it.

For each package the script runs ``npm pack NAME@VERSION`` in a temporary folder
(npm only downloads the tarball; no package script runs), checks the tarball's
SHA-512 against the ``dist.integrity`` the registry publishes for that version
(``npm view``), and, if the manifest already pins that version, against the
integrity recorded there too: a registry that served different bytes for a
published version is refused. It then copies the listed files out of the
tarball, removes any other file from the vendor folders, and writes the
manifest ``VENDORED.json`` in each folder: per package its name, version,
license, the tarball's integrity, and the SHA-256 and size of every vendored
file. ``tests/test_vendored.py`` checks the files on disk against the manifests,
so a vendored file cannot be edited by hand unnoticed.

To update a library: change its version (and, if the package moved them, its
file list) in :data:`PACKAGES`, run this script, look at the diff of the
manifest, run ``tests/test_vendored.py`` and the browser tests, and commit the
script, the files and the manifests together. Needs ``npm`` on PATH (Debian's
``npm`` package) and the npm registry; nothing else.
"""

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

REPO: Final = Path(__file__).resolve().parent.parent
STATIC: Final = REPO / "node" / "web" / "static" / "vendor"  # served at /static/vendor/
TESTS: Final = REPO / "tests" / "vendor"  # used by the tests only, never served
MANIFEST: Final = "VENDORED.json"


@dataclass(frozen=True)
class Package:
    name: str  # the npm name, also the folder under the vendor root
    version: str  # exact; never a range
    root: Path  # STATIC or TESTS
    files: tuple[str, ...]  # paths inside the tarball's package/ folder
    why: str


PACKAGES: Final = (
    Package(
        "maplibre-gl",
        # 4.7.1, the last 4.x, rather than 5.x: its CSP build (a page script plus a
        # worker script loaded from 'self', no blob: worker) is 186 + 96 KB gzipped,
        # which with pmtiles keeps the map page under its 300 KB JavaScript budget;
        # 5.24.1's CSP build is 248 + 124 KB.
        "4.7.1",
        STATIC,
        (
            "dist/maplibre-gl-csp.js",
            "dist/maplibre-gl-csp-worker.js",
            "dist/maplibre-gl.js",
            "dist/maplibre-gl.css",
            "LICENSE.txt",
        ),
        "draws /map and /embed/map with JavaScript; the CSP build runs with worker-src 'self'",
    ),
    Package(
        "pmtiles",
        "4.5.0",
        STATIC,
        # The tarball ships no LICENSE file; package.json declares BSD-3-Clause.
        ("dist/pmtiles.js", "package.json"),
        "reads an operator's PMTiles basemap through HTTP Range requests (global `pmtiles`)",
    ),
    Package(
        "@noble/ed25519",
        "2.3.0",
        STATIC,
        ("index.js", "LICENSE"),
        "checks a record's Ed25519 signature in the visitor's browser (an ES module)",
    ),
    Package(
        "@noble/hashes",
        "2.4.0",
        STATIC,
        # sha2.js and the modules it imports (relative imports only). ed25519's own
        # hash uses crypto.subtle, which a browser offers only in a secure context:
        # a node reached over plain http on a LAN address has none.
        ("sha2.js", "_md.js", "_u64.js", "utils.js", "LICENSE"),
        "SHA-512 for @noble/ed25519 where crypto.subtle is missing (ES modules)",
    ),
    Package(
        "axe-core",
        "4.14.1",
        TESTS,
        ("axe.min.js", "LICENSE"),
        "accessibility checks of every page in tests/test_site_quality.py (tests only)",
    ),
)


def integrity(data: bytes) -> str:
    """The npm ``dist.integrity`` form of ``data``: ``sha512-`` and base64."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def npm(*args: str, cwd: Path) -> str:
    found = shutil.which("npm")
    if found is None:
        sys.exit("npm is not on PATH (apt-get install npm)")
    done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [found, *args, "--ignore-scripts", "--loglevel=error"],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def registry_facts(package: Package, work: Path) -> dict[str, Any]:
    out = npm("view", f"{package.name}@{package.version}", "--json", cwd=work)
    facts: dict[str, Any] = json.loads(out)
    if facts.get("version") != package.version:
        sys.exit(f"{package.name}: the registry has no version {package.version}")
    return facts


def fetch(package: Package, work: Path, pinned: str | None) -> tuple[dict[str, Any], bytes]:
    """The package's tarball, checked against the registry's (and the manifest's) integrity."""
    facts = registry_facts(package, work)
    expected = facts["dist"]["integrity"]
    listed = json.loads(npm("pack", f"{package.name}@{package.version}", "--json", cwd=work))
    tarball = (work / listed[0]["filename"]).read_bytes()
    got = integrity(tarball)
    if got != expected:
        sys.exit(f"{package.name}@{package.version}: tarball {got} != registry {expected}")
    if pinned is not None and pinned != expected:
        sys.exit(f"{package.name}@{package.version}: registry {expected} != manifest {pinned}")
    return facts, tarball


def extract(package: Package, tarball: Path) -> dict[str, bytes]:
    """The listed files' bytes, read from the tarball (nothing else is unpacked)."""
    found: dict[str, bytes] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            inner = member.name.split("/", 1)[-1]  # npm tarballs hold one top folder
            if inner in package.files and member.isfile():
                reader = archive.extractfile(member)
                assert reader is not None
                found[inner] = reader.read()
    missing = set(package.files) - set(found)
    if missing:
        sys.exit(f"{package.name}@{package.version} has no {sorted(missing)}")
    return found


def load_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.exists():
        return {"packages": []}
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def pinned_integrity(manifest: dict[str, Any], package: Package) -> str | None:
    for entry in manifest["packages"]:
        if entry["name"] == package.name and entry["version"] == package.version:
            found: str = entry["integrity"]
            return found
    return None


def entry(package: Package, facts: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
    return {
        "name": package.name,
        "version": package.version,
        "license": facts.get("license"),
        "why": package.why,
        "integrity": facts["dist"]["integrity"],
        "files": {
            path: {"sha256": hashlib.sha256(files[path]).hexdigest(), "bytes": len(files[path])}
            for path in package.files
        },
    }


ABOUT: Final = (
    "Files copied unchanged from npm package tarballs by deploy/vendor.py, which also "
    "writes this manifest; tests/test_vendored.py checks every file here against it. "
    "Do not edit these files: change the version in deploy/vendor.py and run it."
)


def write(root: Path, packages: list[tuple[Package, dict[str, Any], dict[str, bytes]]]) -> None:
    """Replace the vendor folder's content with these packages' files and manifest."""
    if root.exists():
        for child in root.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    for package, _, files in packages:
        for path, data in files.items():
            target = root / package.name / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    manifest = {"about": ABOUT, "packages": [entry(*each) for each in packages]}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify only; change nothing")
    check = parser.parse_args(argv).check
    gathered: dict[Path, list[tuple[Package, dict[str, Any], dict[str, bytes]]]] = {}
    with tempfile.TemporaryDirectory(prefix="banscan-vendor-") as temporary:
        work = Path(temporary)
        for package in PACKAGES:
            pinned = pinned_integrity(load_manifest(package.root), package)
            folder = work / package.name.replace("/", "_")
            folder.mkdir()
            facts, data = fetch(package, folder, pinned)
            tarball = folder / "package.tgz"
            tarball.write_bytes(data)
            files = extract(package, tarball)
            gathered.setdefault(package.root, []).append((package, facts, files))
            print(f"{package.name}@{package.version}: {facts['dist']['integrity'][:24]}... ok")
    if check:
        stale = [
            f"{package.root.relative_to(REPO)}/{package.name}/{path}"
            for packages in gathered.values()
            for package, _, files in packages
            for path, data in files.items()
            if not (package.root / package.name / path).is_file()
            or (package.root / package.name / path).read_bytes() != data
        ]
        if stale:
            sys.exit("differ from the registry's tarballs: " + ", ".join(stale))
        print("the vendored files are the registry's")
        return
    for root, packages in gathered.items():
        root.mkdir(parents=True, exist_ok=True)
        write(root, packages)
        print(f"wrote {root.relative_to(REPO)}/{MANIFEST}")


if __name__ == "__main__":
    main()
