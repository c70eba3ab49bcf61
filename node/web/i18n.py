"""The report pages' languages: the string catalogs and which one a request gets.

Every string a person reads comes from ``node/web/locales/<lang>.json``. The
language is ``?lang=`` (the forms post to a URL that keeps it, and carry it in
a hidden field too), else the best of ``Accept-Language``, else English.
"""

import functools
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Final

from aiohttp import web

from protocol.countries import COUNTRY_CODES

DEFAULT_LANGUAGE: Final = "en"


def _load_catalogs() -> dict[str, dict[str, str]]:
    folder = resources.files("node.web") / "locales"
    return {
        entry.name.removesuffix(".json"): json.loads(entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


CATALOGS: Final = _load_catalogs()


@dataclass(frozen=True)
class Catalog:
    """One language's strings; a missing key is a bug, so it raises."""

    lang: str
    strings: Mapping[str, str]

    def __call__(self, key: str, **values: int) -> str:
        text = self.strings[key]
        return text.format(**values) if values else text


def choose_language(wanted: Sequence[str | None], accept_language: str) -> str:
    """The first of ``wanted`` the node speaks, else the best of Accept-Language, else English."""
    for lang in (*wanted, *_accepted(accept_language)):
        if lang in CATALOGS:
            return lang
    return DEFAULT_LANGUAGE


def _accepted(header: str) -> list[str]:
    """Accept-Language's primary subtags, most wanted first."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:32]):
        tag, _, parameters = item.partition(";")
        weight = re.fullmatch(r"\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*", parameters)
        quality = float(weight.group(1)) if weight else (1.0 if not parameters else 0.0)
        primary = tag.strip().lower().split("-")[0]
        if primary and quality > 0:
            ranked.append((-quality, position, primary))
    return [primary for _, _, primary in sorted(ranked)]


def catalog(request: web.Request, field_lang: str | None = None) -> Catalog:
    lang = choose_language(
        (request.query.get("lang"), field_lang), request.headers.get("Accept-Language", "")
    )
    return Catalog(lang, CATALOGS[lang])


@functools.cache
def countries(lang: str) -> tuple[tuple[str, str], ...]:
    """(code, name) of every country, by name as a reader of ``lang`` looks for it."""
    names = CATALOGS[lang]

    def folded(code: str) -> str:
        name = unicodedata.normalize("NFKD", names[f"country.{code}"])
        return name.encode("ascii", "ignore").decode().casefold()

    return tuple((code, names[f"country.{code}"]) for code in sorted(COUNTRY_CODES, key=folded))
