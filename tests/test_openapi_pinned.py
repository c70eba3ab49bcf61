"""The OpenAPI document, pinned byte for byte.

The document is part of the HTTP surface: restructuring the modules that build
it must not change it. ``tests/vectors/openapi.json`` holds the document for a
fixed version string. After a deliberate change to the API, regenerate it::

    python3 tests/test_openapi_pinned.py
"""

import json
import sys
from pathlib import Path

from node.api.openapi import openapi_document

PINNED = Path(__file__).parent / "vectors" / "openapi.json"
VERSION = "0.0.0-pinned"


def render_document() -> str:
    return json.dumps(openapi_document(VERSION), indent=2, ensure_ascii=False) + "\n"


def test_openapi_document_is_unchanged() -> None:
    assert render_document() == PINNED.read_text(encoding="utf-8")


if __name__ == "__main__":
    PINNED.write_text(render_document(), encoding="utf-8")
    sys.exit(0)
