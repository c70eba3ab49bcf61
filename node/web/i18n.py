"""The report pages' languages: the gettext catalogs and which one a request gets.

Every string a person reads comes from ``node/web/locales/<lang>/LC_MESSAGES/messages.mo``,
compiled from the ``.po`` beside it (docs/operators.md, "Translating the pages"). A
message id is a key such as ``page.title``; English is a catalog like any other. The
language is ``?lang=`` (the forms post to a URL that keeps it, and carry it in a hidden
field too), else the best of ``Accept-Language``, else English.

Only the standard library's :mod:`gettext` reads the catalogs; babel is a tool for
extracting and compiling them, not needed to serve the pages.
"""

import functools
import gettext
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Final

from aiohttp import web

from protocol.countries import COUNTRY_CODES

DEFAULT_LANGUAGE: Final = "en"
DOMAIN: Final = "messages"
# Languages written right to left; the layout sets ``dir="rtl"`` for them.
_RIGHT_TO_LEFT: Final = frozenset({"ar", "dv", "fa", "he", "ps", "ur", "yi"})


def N_(message_id: str) -> str:
    """Mark a message id that is looked up later, so ``pybabel extract`` finds it."""
    return message_id


class _Missing(gettext.NullTranslations):
    """The last fallback of every catalog: a message id it lacks is a bug, so it raises."""

    def gettext(self, message: str) -> str:
        raise KeyError(message)


def _load_catalogs() -> dict[str, gettext.GNUTranslations]:
    folder = resources.files("node.web") / "locales"
    catalogs = {}
    for entry in folder.iterdir():
        compiled = entry / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if compiled.is_file():
            with compiled.open("rb") as stream:
                catalogs[entry.name] = gettext.GNUTranslations(stream)
            catalogs[entry.name].add_fallback(_Missing())
    return catalogs


CATALOGS: Final = _load_catalogs()


@dataclass(frozen=True)
class Catalog:
    """One language's messages."""

    lang: str
    translations: gettext.GNUTranslations

    def __call__(self, message_id: str) -> str:
        return self.translations.gettext(message_id)

    @property
    def direction(self) -> str:
        return "rtl" if self.lang in _RIGHT_TO_LEFT else "ltr"


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
    name_of = Catalog(lang, CATALOGS[lang])
    names = {code: name_of(f"country.{code}") for code in COUNTRY_CODES}

    def folded(code: str) -> str:
        name = unicodedata.normalize("NFKD", names[code])
        return name.encode("ascii", "ignore").decode().casefold()

    return tuple((code, names[code]) for code in sorted(COUNTRY_CODES, key=folded))


def format_count(count: int, lang: str) -> str:
    """``count`` with its thousands grouped as readers of ``lang`` write them."""
    text = f"{count:,}"
    return text.replace(",", ".") if lang == "es" else text
