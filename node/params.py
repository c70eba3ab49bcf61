"""Query parameters shared by the query, stats and export routes and the CLI.

:func:`parse_query_filter` turns a mapping of parameters into a
:class:`storage.queries.QueryFilter`, refusing any bad or unknown parameter
with a :class:`node.problems.BadParameter` that names it. Multi-valued
parameters take comma-separated values (``country=GB,IE``) and may also be
repeated (``country=GB&country=IE``).
"""

import datetime
import re
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, get_args

from node.problems import BadParameter
from protocol.countries import COUNTRY_CODES
from protocol.errors import KeyFormatError
from protocol.fields import GEOHASH_ALPHABET, MAX_AREA_PRECISION
from protocol.keys import parse_key_text
from protocol.kinds import Deployment, FrtCapability, IncidentCategory, TechnologyType, Verification
from storage.filters import QueryFilter, QueryKind

KINDS: tuple[QueryKind, ...] = ("incident", "deployment")
MULTI_VALUED = (
    "country",
    "region",
    "city",
    "origin",
    "category",
    "technology",
    "agency",
    "status",
    "frt",
)
SINGLE_VALUED = (
    "occurred_from",
    "occurred_to",
    "created_from",
    "created_to",
    "area",
    "bbox",
    "q",
)
# The filters of the public site's map and lists (node.web.filters), in its form's order,
# and the longest value one takes.
PAGE_FILTERS = (
    "country",
    "city",
    "status",
    "frt",
    "technology",
    "category",
    "occurred_from",
    "occurred_to",
)
MAX_FILTER_TEXT = 200
# The deepest page of a site list paged by number (the campaign pages): past it a
# visitor narrows the filter instead.
MAX_LIST_PAGE = 200
# The map's deepest zoom: of its views, its tiles and their grid (2**z tiles a side).
MAX_ZOOM = 18
FILTER_PARAMETERS = frozenset(MULTI_VALUED + SINGLE_VALUED)
INCIDENT_ONLY = frozenset({"category", "technology", "area", "q"})
DEPLOYMENT_ONLY = frozenset({"bbox", "frt"})
MAX_VALUES = 100
MAX_TEXT = 200
MAX_SEARCH = 500

CATEGORIES = frozenset(get_args(IncidentCategory))
TECHNOLOGIES = frozenset(get_args(TechnologyType))
FRT_STATUSES = frozenset(get_args(FrtCapability.model_fields["status"].annotation))
STATUSES: dict[str, frozenset[str]] = {
    "incident": frozenset(get_args(Verification.model_fields["status"].annotation)),
    "deployment": frozenset(get_args(Deployment.model_fields["status"].annotation)),
}
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_DEGREES = re.compile(r"-?\d{1,3}(\.\d{1,15})?")
_E7 = Decimal(10_000_000)


def parse_query_filter(
    query: Mapping[str, str],
    kind: str,
    audiences: tuple[str, ...],
    *,
    allowed_extra: frozenset[str] = frozenset(),
) -> QueryFilter:
    """The filter ``query`` asks for over ``kind`` records in ``audiences``.

    Parameters outside the filter set and ``allowed_extra`` are errors; the
    caller reads the ``allowed_extra`` ones itself.
    """
    _check_names(query, kind, FILTER_PARAMETERS | allowed_extra)
    values = {name: _values(query, name) for name in MULTI_VALUED if name in query}
    single = {name: _single(query, name) for name in SINGLE_VALUED if name in query}

    countries = values.get("country", ())
    for country in countries:
        if country not in COUNTRY_CODES:
            raise BadParameter("country", f"{country[:8]!r} is not an ISO 3166-1 alpha-2 code")
    _one_of("category", values.get("category", ()), CATEGORIES)
    _one_of("technology", values.get("technology", ()), TECHNOLOGIES)
    _one_of("status", values.get("status", ()), STATUSES[kind])
    _one_of("frt", values.get("frt", ()), FRT_STATUSES)
    for name in ("region", "city", "agency"):
        if any(len(v) > MAX_TEXT for v in values.get(name, ())):
            raise BadParameter(name, f"a value is longer than {MAX_TEXT} characters")
    origins = tuple(_origin(text) for text in values.get("origin", ()))

    occurred_from = _date("occurred_from", single.get("occurred_from"))
    occurred_to = _date("occurred_to", single.get("occurred_to"))
    if occurred_from and occurred_to and occurred_from > occurred_to:
        raise BadParameter("occurred_to", "is before occurred_from")
    created_from = parse_time_ms("created_from", single.get("created_from"))
    created_to = parse_time_ms("created_to", single.get("created_to"))
    if created_from is not None and created_to is not None and created_from > created_to:
        raise BadParameter("created_to", "is before created_from")

    return QueryFilter(
        kind="incident" if kind == "incident" else "deployment",
        audiences=audiences,
        countries=countries,
        regions=values.get("region", ()),
        cities=values.get("city", ()),
        origins=origins,
        categories=values.get("category", ()),
        technologies=values.get("technology", ()),
        agencies=values.get("agency", ()),
        statuses=values.get("status", ()),
        frt=values.get("frt", ()),
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        created_from_ms=created_from,
        created_to_ms=created_to,
        area_prefix=_area(single.get("area")),
        bbox=parse_bbox(single["bbox"]) if "bbox" in single else None,
        text=_search(single.get("q")),
    )


def _check_names(query: Mapping[str, str], kind: str, known: frozenset[str]) -> None:
    """400 for an unknown kind, an unknown parameter or one of the other kind's."""
    if kind not in KINDS:
        raise BadParameter("kind", f"must be one of {', '.join(KINDS)}")
    unknown = sorted(set(query) - known)
    if unknown:
        raise BadParameter(unknown[0][:40], f"unknown parameter; use {', '.join(sorted(known))}")
    wrong_kind = INCIDENT_ONLY if kind == "deployment" else DEPLOYMENT_ONLY
    misplaced = sorted(wrong_kind & set(query))
    if misplaced:
        raise BadParameter(misplaced[0], f"does not apply to {kind} records")


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    if name not in query:
        return default
    text = query[name]
    # isdigit() alone admits digits int() refuses ("²") and strings too long to convert;
    # as many digits as ``high`` has are read, so every value up to ``high`` is taken.
    too_long = len(text) > max(18, len(str(high)))
    if not (text.isascii() and text.isdigit()) or too_long or not low <= int(text) <= high:
        raise BadParameter(name, f"must be an integer from {low} to {high}")
    return int(text)


def parse_time_ms(name: str, text: str | None) -> int | None:
    """Milliseconds since the epoch, or an RFC 3339 timestamp with a zone."""
    if text is None:
        return None
    if text.isascii() and text.isdigit():
        if len(text) > 18:
            raise BadParameter(name, "milliseconds since the epoch is too large")
        return int(text)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadParameter(name, "must be milliseconds or an RFC 3339 timestamp") from exc
    if moment.tzinfo is None:
        raise BadParameter(name, "an RFC 3339 timestamp needs a zone, e.g. Z or +00:00")
    # Exact integer arithmetic: timestamp() * 1000 is off by one for some milliseconds.
    return (moment - _EPOCH) // datetime.timedelta(milliseconds=1)


def parse_bbox(text: str) -> tuple[int, int, int, int]:
    """``min_lon,min_lat,max_lon,max_lat`` in degrees (GeoJSON order) as
    (min_lat_e7, min_lon_e7, max_lat_e7, max_lon_e7), widened outward to whole e7 units."""
    parts = text.split(",")
    if len(parts) != 4 or not all(_DEGREES.fullmatch(p.strip()) for p in parts):
        raise BadParameter("bbox", "must be min_lon,min_lat,max_lon,max_lat in decimal degrees")
    min_lon, min_lat, max_lon, max_lat = (Decimal(p.strip()) for p in parts)
    for value, limit, what in (
        (min_lon, 180, "longitude"),
        (max_lon, 180, "longitude"),
        (min_lat, 90, "latitude"),
        (max_lat, 90, "latitude"),
    ):
        if abs(value) > limit:
            raise BadParameter("bbox", f"a {what} must be from -{limit} to {limit}")
    if min_lat > max_lat:
        raise BadParameter("bbox", "min_lat is greater than max_lat")

    def e7(value: Decimal, rounding: str) -> int:
        return int((value * _E7).to_integral_value(rounding=rounding))

    return (
        e7(min_lat, ROUND_FLOOR),
        e7(min_lon, ROUND_FLOOR),
        e7(max_lat, ROUND_CEILING),
        e7(max_lon, ROUND_CEILING),
    )


def _repeated(query: Mapping[str, str], name: str) -> list[str]:
    getall: Any = getattr(query, "getall", None)
    return list(getall(name)) if getall is not None else [query[name]]


def _values(query: Mapping[str, str], name: str) -> tuple[str, ...]:
    items = [item.strip() for text in _repeated(query, name) for item in text.split(",")]
    if not all(items):
        raise BadParameter(name, "an empty value; give comma-separated values")
    if len(items) > MAX_VALUES:
        raise BadParameter(name, f"at most {MAX_VALUES} values")
    return tuple(dict.fromkeys(items))


def _single(query: Mapping[str, str], name: str) -> str:
    given = _repeated(query, name)
    if len(given) > 1:
        raise BadParameter(name, "given more than once")
    if not given[0].strip():
        raise BadParameter(name, "must not be empty")
    return given[0].strip()


def _one_of(name: str, values: tuple[str, ...], allowed: frozenset[str]) -> None:
    for value in values:
        if value not in allowed:
            raise BadParameter(name, f"{value[:40]!r} is not one of {', '.join(sorted(allowed))}")


def _origin(text: str) -> bytes:
    try:
        return parse_key_text(text)
    except KeyFormatError as exc:
        raise BadParameter("origin", exc.detail) from exc


def _date(name: str, text: str | None) -> str | None:
    if text is None:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise BadParameter(name, "must be a date in the form YYYY-MM-DD")
    try:
        datetime.date.fromisoformat(text)
    except ValueError as exc:
        raise BadParameter(name, f"{text} is not a calendar date") from exc
    return text


def _area(text: str | None) -> str | None:
    if text is None:
        return None
    if not 1 <= len(text) <= MAX_AREA_PRECISION or any(c not in GEOHASH_ALPHABET for c in text):
        raise BadParameter(
            "area", f"must be a geohash prefix of 1 to {MAX_AREA_PRECISION} characters"
        )
    return text


def _search(text: str | None) -> str | None:
    if text is None:
        return None
    if len(text) > MAX_SEARCH:
        raise BadParameter("q", f"at most {MAX_SEARCH} characters")
    if "\x00" in text:
        raise BadParameter("q", "must not contain NUL")
    return text


# The campaign lists (node.campaignparams) read their own parameters the same way.
listed_values = _values
single_value = _single
