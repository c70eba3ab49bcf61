"""Query parameters of the campaign kinds' lists, for the API and the public pages alike.

Each list (:data:`CAMPAIGN_LISTS`) filters one campaign kind. The filters
every list shares (``country``, ``region``, ``city``, ``origin``, ``agency``,
``created_from``, ``created_to``, ``q``) are read exactly as
:func:`node.params.parse_query_filter` reads them; each list adds the filters
its kind's columns answer (storage.columns): its type words (``type``,
``instrument`` or ``law``), ``status``, ``date_from``/``date_to`` on its main
date, ``agency_record`` (agency record ids), and for requests ``overdue`` and
``due_from``/``due_to``, for actions ``open_on``. ``today`` comes from the
caller, so what "overdue" and "open" mean follows the node's clock.
"""

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final, get_args

from multidict import MultiDict

from node.params import listed_values, parse_query_filter, single_value
from node.problems import BadParameter
from protocol.campaign import (
    ANSWERED_STATUSES,
    Action,
    AgencyProfile,
    Policy,
    RecordsRequest,
)
from storage.filters import QueryFilter, QueryKind

SHARED: Final = ("country", "region", "city", "origin", "agency", "created_from", "created_to", "q")


def _words(model: type, field: str) -> frozenset[str]:
    return frozenset(get_args(model.model_fields[field].annotation))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CampaignList:
    """One campaign kind's list: its kind, the parameter its ``category`` column answers
    to and the values it takes (None: free text), its statuses, what its date is."""

    kind: QueryKind
    plural: str
    category: str | None = None
    categories: frozenset[str] | None = None
    statuses: frozenset[str] = frozenset()
    date: str | None = None
    extra: tuple[str, ...] = ()

    def parameters(self) -> tuple[str, ...]:
        """Every filter parameter this list takes, in the order the docs list them."""
        names = [*SHARED, "agency_record"]
        if self.category:
            names.append(self.category)
        if self.statuses:
            names.append("status")
        if self.date:
            names.extend(("date_from", "date_to"))
        return (*names, *self.extra)


CAMPAIGN_LISTS: Final = {
    "agencies": CampaignList("agency", "agencies", "type", _words(AgencyProfile, "type")),
    "vendors": CampaignList("vendor", "vendors"),
    "policies": CampaignList(
        "policy",
        "policies",
        "instrument",
        _words(Policy, "instrument"),
        _words(Policy, "status"),
        "the date it took effect, else was passed, else was introduced",
    ),
    "requests": CampaignList(
        "records_request",
        "requests",
        "law",
        None,
        _words(RecordsRequest, "status"),
        "filed_on",
        ("overdue", "due_from", "due_to"),
    ),
    "actions": CampaignList(
        "action", "actions", "type", _words(Action, "type"), date="opens_on", extra=("open_on",)
    ),
}
MAX_TEXT = 200
CAMPAIGN_KINDS: Final[dict[str, CampaignList]] = {
    listing.kind: listing for listing in CAMPAIGN_LISTS.values()
}


def parse_campaign_filter(
    query: Mapping[str, str],
    listing: CampaignList,
    audiences: tuple[str, ...],
    today: datetime.date,
    *,
    allowed_extra: frozenset[str] = frozenset(),
) -> QueryFilter:
    """The filter ``query`` asks for over ``listing``'s kind; any other parameter but
    ``allowed_extra`` is a :class:`BadParameter` naming it."""
    known = set(listing.parameters()) | allowed_extra
    unknown = sorted(set(query) - known)
    if unknown:
        raise BadParameter(unknown[0][:40], f"unknown parameter; use {', '.join(sorted(known))}")
    shared = MultiDict((k, v) for k, v in _items(query) if k in SHARED)
    where = replace(parse_query_filter(shared, "incident", audiences), kind=listing.kind)
    multi = {"agency_record", "status", listing.category or "status"}
    given = {name: listed_values(query, name) for name in multi if name in query}
    categories: tuple[str, ...] = ()
    if listing.category and listing.category in given:
        categories = _allowed(listing.category, given[listing.category], listing.categories)
    statuses = _allowed("status", given.get("status", ()), listing.statuses)
    dates = {n: _date(query, n) for n in ("date_from", "date_to", "due_from", "due_to", "open_on")}
    _in_order(dates, "date_from", "date_to")
    _in_order(dates, "due_from", "due_to")
    due_to = dates["due_to"]
    unanswered: tuple[str, ...] = ()
    if "overdue" in query and _boolean(query, "overdue"):
        yesterday = (today - datetime.timedelta(days=1)).isoformat()
        due_to = min(due_to or yesterday, yesterday)
        unanswered = tuple(sorted(ANSWERED_STATUSES))
    return replace(
        where,
        categories=categories,
        statuses=statuses,
        occurred_from=dates["date_from"],
        occurred_to=dates["date_to"],
        agency_refs=tuple(_record_id(v) for v in given.get("agency_record", ())),
        due_from=dates["due_from"],
        due_to=due_to,
        unanswered=unanswered,
        open_on=dates["open_on"] if "open_on" in query else None,
    )


def _items(query: Mapping[str, str]) -> list[tuple[str, str]]:
    items = getattr(query, "items", None)
    return list(items()) if items is not None else []


def _allowed(name: str, values: tuple[str, ...], allowed: frozenset[str] | None) -> tuple[str, ...]:
    for value in values:
        if allowed is not None and value not in allowed:
            raise BadParameter(name, f"{value[:40]!r} is not one of {', '.join(sorted(allowed))}")
        if len(value) > MAX_TEXT:
            raise BadParameter(name, f"a value is longer than {MAX_TEXT} characters")
    return values


def _date(query: Mapping[str, str], name: str) -> str | None:
    if name not in query:
        return None
    text = single_value(query, name)
    try:
        if len(text) != 10:
            raise ValueError
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise BadParameter(name, "must be a calendar date in the form YYYY-MM-DD") from exc


def _in_order(dates: dict[str, str | None], low: str, high: str) -> None:
    first, last = dates[low], dates[high]
    if first and last and first > last:
        raise BadParameter(high, f"is before {low}")


def _boolean(query: Mapping[str, str], name: str) -> bool:
    text = single_value(query, name)
    if text not in ("true", "false"):
        raise BadParameter(name, "must be true or false")
    return text == "true"


def _record_id(text: str) -> bytes:
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise BadParameter("agency_record", "must be record ids: 64 lowercase hex characters")
    return bytes.fromhex(text)
