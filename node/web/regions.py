"""ISO 3166-2 subdivisions by name, in the visitor's language: ``US-CA`` is California.

Records carry a jurisdiction's subdivision as its code (``US-CA``; the query
columns hold ``US`` and ``CA``). The names come from ``regions.json`` beside
this module, built by ``deploy/regions.py`` from Debian's iso-codes data:
every code's name (the local one ISO 3166-2 gives: ``Bayern``), and the
Spanish one where iso-codes translates it (``Nueva York``). A code the file
does not hold (one assigned since, or a mistaken one) is shown as the code.
"""

import functools
import json
from pathlib import Path
from typing import Final

REGIONS_FILE: Final = Path(__file__).with_name("regions.json")


@functools.cache
def _names() -> dict[str, dict[str, str]]:
    names: dict[str, dict[str, str]] = json.loads(REGIONS_FILE.read_text(encoding="utf-8"))
    return names


def region_name(lang: str, country: str, region: str) -> str:
    """The name of subdivision ``region`` of ``country`` in ``lang`` (English when that
    language has no name of its own for it), or its code ``US-CA`` when none is known."""
    code = f"{country}-{region}"
    names = _names()
    return names.get(lang, {}).get(code) or names["en"].get(code) or code
