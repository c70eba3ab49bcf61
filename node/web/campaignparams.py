"""The query parameters of the campaign pages, checked, and the links that keep them.

``/agencies``, ``/policies``, ``/requests`` and ``/act`` take a few parameters
each (a country, a vocabulary word, a name, a page number). Their forms submit
with GET, so an empty field arrives as ``name=``: empty values are dropped. A
parameter a page does not take, one given twice, or a bad value is a
:class:`node.problems.BadParameter` naming it, which the page answers as a 400
page in the visitor's language.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from aiohttp import web

from node.params import MAX_LIST_PAGE
from node.problems import BadParameter
from node.web.filters import single_values
from node.web.recordview import parse_record_id
from protocol.countries import COUNTRY_CODES

MAX_PAGE: Final = MAX_LIST_PAGE


@dataclass(frozen=True)
class PageParams:
    """A campaign page's parameters: the non-empty ones, as given (stripped)."""

    values: Mapping[str, str]

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def choice(self, name: str, allowed: Iterable[str]) -> str | None:
        """A vocabulary word, or None when not given."""
        value = self.values.get(name)
        words = tuple(allowed)
        if value is not None and value not in words:
            raise BadParameter(name, f"{value[:40]!r} is not one of {', '.join(words)}")
        return value

    def country(self) -> str | None:
        """``country``: an ISO 3166-1 alpha-2 code (the form's select sends one)."""
        value = self.values.get("country")
        if value is not None and value.upper() not in COUNTRY_CODES:
            raise BadParameter("country", "must be an ISO 3166-1 alpha-2 country code, e.g. ES")
        return value.upper() if value else None

    def record_id(self, name: str) -> bytes | None:
        """A record id: 64 lowercase hexadecimal digits."""
        value = self.values.get(name)
        if value is None:
            return None
        record_id = parse_record_id(value)
        if record_id is None:
            raise BadParameter(name, "a record id is 64 lowercase hexadecimal digits")
        return record_id

    def page(self) -> int:
        """``page``: 1 (the default) to :data:`MAX_PAGE`."""
        value = self.values.get("page", "1")
        if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_PAGE):
            raise BadParameter("page", f"must be a whole number from 1 to {MAX_PAGE}")
        return int(value)

    def link(self, path: str, lang: str, **changes: str | None) -> str:
        """``path`` with these parameters, ``changes`` applied (None removes), and ``lang``."""
        merged = {**self.values, **changes}
        kept = [(name, value) for name, value in merged.items() if value]
        return f"{path}?{urlencode([*kept, ('lang', lang)])}"

    def switch_to(self, path: str) -> str:
        """The page's address without ``lang``, for the language switch."""
        kept = list(self.values.items())
        return f"{path}?{urlencode(kept)}" if kept else path


def page_params(request: web.Request, names: Iterable[str]) -> PageParams:
    """The parameters of ``request``'s URL among ``names`` (and ``lang``); any other is
    refused by name, as is one given twice or longer than the filters allow."""
    values = single_values(request, names, {*names, "lang"})
    return PageParams(values)


def like_pattern(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere (``%``, ``_`` and ``\\`` escaped
    for ``ESCAPE '\\'``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
