"""The filters of the site's map and lists, as the URL carries them so a view can be shared.

A page's address holds its filter in the query parameters the API uses
(:mod:`node.params`): ``country``, ``city``, ``frt``, ``status``, ``technology``,
``category``, ``occurred_from`` and ``occurred_to``. The filter form
(``filters.html``) submits them with GET, so an empty field arrives as ``country=``:
empty values are dropped. A parameter that applies to one kind only (``category``,
``technology`` to incidents; ``frt`` to deployments) is simply not applied to the
other kind, so one URL can filter a map of both. A malformed value is a
:class:`node.problems.BadParameter` naming it, which a page answers as a 400 page.

The statuses differ by kind: a deployment's (reported ... removed) and an
incident's verification (unverified ... verified); ``status`` takes either, and
each kind keeps the values it knows.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from aiohttp import web

from node.params import (
    CATEGORIES,
    DEPLOYMENT_ONLY,
    FRT_STATUSES,
    INCIDENT_ONLY,
    MAX_FILTER_TEXT,
    PAGE_FILTERS,
    STATUSES,
    TECHNOLOGIES,
    parse_query_filter,
)
from node.problems import BadParameter
from node.web.i18n import N_
from node.web.site import PUBLIC
from storage.filters import QueryFilter, QueryKind

# The message id of each filter's label, and of each value a select offers.
FILTER_LABELS: Final = {name: f"filter.{name}" for name in PAGE_FILTERS}
DEPLOYMENT_STATUSES: Final = ("reported", "corroborated", "confirmed", "disputed", "removed")
VERIFICATION_STATUSES: Final = ("unverified", "corroborated", "verified")
FRT_VALUES: Final = ("confirmed", "suspected", "unknown")


def value_label(name: str, value: str) -> str:
    """The message id naming one value of a select filter."""
    prefix = {"status": "record_status", "frt": "frt", "technology": "technology"}
    return f"{prefix.get(name, name)}.{value}"


@dataclass(frozen=True)
class PageFilter:
    """The filter a page's URL asks for: its non-empty parameters, as given."""

    values: Mapping[str, str]

    def query(self, kind: QueryKind) -> QueryFilter:
        """The filter over ``kind``'s public records, with what applies to that kind."""
        excluded = INCIDENT_ONLY if kind == "deployment" else DEPLOYMENT_ONLY
        given = {name: text for name, text in self.values.items() if name not in excluded}
        if "status" in given:
            known = [s for s in given["status"].split(",") if s.strip() in STATUSES[kind]]
            if known:
                given["status"] = ",".join(known)
            else:
                del given["status"]
        return parse_query_filter(given, kind, PUBLIC)

    def applies_to(self, kind: QueryKind) -> bool:
        """Whether this filter can match ``kind`` at all (a ``frt`` filter cannot match an
        incident; a ``status`` naming only deployment statuses cannot either)."""
        excluded = INCIDENT_ONLY if kind == "deployment" else DEPLOYMENT_ONLY
        if any(name in excluded for name in self.values):
            return False
        statuses = self.values.get("status")
        return statuses is None or any(s in STATUSES[kind] for s in statuses.split(","))

    def link(self, path: str, lang: str, **changes: str | None) -> str:
        """``path`` with this filter, ``changes`` applied (None removes), and ``lang``."""
        params = {**self.values, **changes}
        kept = [(name, value) for name, value in params.items() if value]
        return f"{path}?{urlencode([*kept, ('lang', lang)])}"

    def __bool__(self) -> bool:
        return bool(self.values)


def single_values(request: web.Request, names: Iterable[str], allowed: set[str]) -> dict[str, str]:
    """The non-blank values of ``names`` in ``request``'s URL, each given at most once and
    at most MAX_FILTER_TEXT long; a parameter outside ``allowed`` is refused by name."""
    unknown = sorted(set(request.query) - allowed)
    if unknown:
        raise BadParameter(
            unknown[0][:40], f"unknown parameter; this page takes {', '.join(sorted(allowed))}"
        )
    values: dict[str, str] = {}
    for name in names:
        given = [text.strip() for text in request.query.getall(name, []) if text.strip()]
        if len(given) > 1:
            raise BadParameter(name, "given more than once")
        if given:
            if len(given[0]) > MAX_FILTER_TEXT:
                raise BadParameter(name, f"longer than {MAX_FILTER_TEXT} characters")
            values[name] = given[0]
    return values


def page_filter(request: web.Request, extra: Iterable[str] = ()) -> PageFilter:
    """The page filter of ``request``'s URL. Parameters beyond the filters, ``lang`` and
    ``extra`` (the page's own, such as ``bbox`` or ``after``) are refused by name."""
    values = single_values(request, PAGE_FILTERS, {*PAGE_FILTERS, "lang", *extra})
    _check_values(values)
    page = PageFilter(values)
    # Every value is checked, whichever kind the page shows.
    for kind in ("incident", "deployment"):
        if page.applies_to(kind):
            page.query(kind)
    return page


def _check_values(values: Mapping[str, str]) -> None:
    choices = {
        "frt": FRT_STATUSES,
        "technology": TECHNOLOGIES,
        "category": CATEGORIES,
        "status": STATUSES["incident"] | STATUSES["deployment"],
    }
    for name, allowed in choices.items():
        for value in values.get(name, "").split(","):
            if value and value.strip() not in allowed:
                raise BadParameter(
                    name, f"{value[:40]!r} is not one of {', '.join(sorted(allowed))}"
                )


def form_fields(kinds: tuple[QueryKind, ...]) -> list[tuple[str, list[str]]]:
    """The form's fields for a page showing ``kinds``: (name, the values a select offers;
    empty for a text or date field), in :data:`PAGE_FILTERS` order."""
    statuses: list[str] = []
    if "deployment" in kinds:
        statuses += DEPLOYMENT_STATUSES
    if "incident" in kinds:
        statuses += [s for s in VERIFICATION_STATUSES if s not in statuses]
    choices: dict[str, list[str]] = {"status": statuses}
    if "deployment" in kinds:
        choices["frt"] = list(FRT_VALUES)
    if "incident" in kinds:
        choices["technology"] = sorted(TECHNOLOGIES)
        choices["category"] = sorted(CATEGORIES)
    fields = []
    for name in PAGE_FILTERS:
        if name in ("frt", "technology", "category") and name not in choices:
            continue
        fields.append((name, choices.get(name, [])))
    return fields


def form_message_ids() -> list[str]:
    """Every message id the filter form can show that is built from a name (for the catalogs)."""
    ids = list(FILTER_LABELS.values())
    both: tuple[QueryKind, ...] = ("incident", "deployment")
    for name, values in form_fields(both):
        if name != "country":
            ids += [
                value_label(name, value)
                for value in values
                if name not in ("technology", "category")
            ]
    return ids


FORM_MESSAGES: Final = (
    N_("filter.legend"),
    N_("filter.apply"),
    N_("filter.clear"),
    N_("filter.any"),
    N_("filter.date_hint"),
)
