"""What a read selects: :class:`QueryFilter`, and the SQL condition it becomes.

Queries (:mod:`storage.queries`), aggregates (:mod:`storage.stats`) and the
rollup (:mod:`storage.rollup`) all select records with a :class:`QueryFilter`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from storage.sql import expand_in

QueryKind = Literal[
    "incident", "deployment", "agency", "vendor", "policy", "records_request", "action"
]


@dataclass(frozen=True)
class QueryFilter:
    """What a query, an aggregate or an export selects. Empty tuples and None select all.

    Values within one field are alternatives (OR); fields combine with AND.
    ``occurred_*`` are inclusive ISO dates, ``created_*_ms`` inclusive
    milliseconds. ``area_prefix`` (a geohash prefix) applies to incidents;
    ``frt`` (FRT capability statuses) and ``bbox`` (min_lat_e7, min_lon_e7,
    max_lat_e7, max_lon_e7; min_lon > max_lon crosses the antimeridian) to
    deployments; ``text`` is a full-text search over incident summaries,
    matched as plain words (every word must occur).

    For the campaign kinds (storage.columns says what their columns hold):
    ``agency_refs`` are ids of the agency records they point at; ``due_from`` and
    ``due_to`` bound ``due_on`` (inclusive); ``unanswered`` excludes the statuses
    that answer a request, so with ``due_to`` it selects overdue requests; and
    ``open_on`` selects the actions open on that day (no ``opens_on`` after it, no
    ``closes_on`` before it).
    """

    kind: QueryKind
    audiences: tuple[str, ...]
    countries: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    origins: tuple[bytes, ...] = ()
    categories: tuple[str, ...] = ()
    technologies: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    frt: tuple[str, ...] = ()
    occurred_from: str | None = None
    occurred_to: str | None = None
    created_from_ms: int | None = None
    created_to_ms: int | None = None
    area_prefix: str | None = None
    bbox: tuple[int, int, int, int] | None = None
    text: str | None = None
    agency_refs: tuple[bytes, ...] = ()
    due_from: str | None = None
    due_to: str | None = None
    unanswered: tuple[str, ...] = ()
    open_on: str | None = None


def fts_match(text: str) -> str:
    """An FTS5 query matching every word of ``text`` as a plain string, so no user input
    is read as FTS syntax (quotes, NEAR, AND, column filters, ``*``). NUL would end an
    FTS5 string early, so it separates words like a space."""
    words = text.replace("\x00", " ").split()
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


# (column, QueryFilter field), most selective first: cities are many, FRT values three.
_SELECTIVE = (
    ("r.city", "cities"),
    ("r.country", "countries"),
    ("r.status", "statuses"),
    ("r.frt", "frt"),
)


def _in(column: str, values: Sequence[Any], clauses: list[str], params: list[Any]) -> None:
    if values:
        marks, listed = expand_in(values)
        clauses.append(f"{column} IN {marks}")
        params.extend(listed)


# Made by storage.mapgrid (migration 10): current incidents by audience and area cell.
AREA_INDEX: Final = "records_map_areas"
# Made by migration 3: current records by kind, country, category, newest first.
PLACE_INDEX: Final = "records_current_place"


def scan_source(query: QueryFilter) -> str:
    """What a scan (``where_clause(query, kind_index=False)``) reads: ``records r``, or
    for a country and a category ``records_current_place`` named, or for incidents in
    an area and in no named country or city ``records_map_areas`` named
    (``records_area`` is gone, storage.listindexes.FEWER_INDEXES; without statistics
    SQLite preferred walking every incident through a kind index: 148 ms, not 32, at
    100,000 incidents)."""
    if _area_scan(query) and not (query.countries or query.cities):
        return f"records r INDEXED BY {AREA_INDEX}"
    if query.countries and query.categories and not query.cities:
        # Both are in records_current_place's key; SQLite took records_current_country,
        # then read every row of the country (the US's school incidents: 29 ms, not 2).
        return f"records r INDEXED BY {PLACE_INDEX}"
    return "records r"


def _area_scan(query: QueryFilter) -> bool:
    return query.kind == "incident" and query.area_prefix is not None


def where_clause(query: QueryFilter, *, kind_index: bool = True) -> tuple[str, list[Any]]:
    """The SQL condition (over ``records r``) and its bound parameters for ``query``.

    ``kind_index=False`` (a scan: aggregates, the map) keeps SQLite from choosing an
    index for the kind term alone (a unary ``+``), unless a country or a city is given:
    the current-record indexes by country and by city (migration 9) start with the kind,
    and read a country's or a city's records faster than the schema's first indexes
    by country and by city did (incidents of the US: 262 -> 37 ms; bench/README.md,
    "Fewer indexes on records"), since dropped (storage.listindexes.FEWER_INDEXES)."""
    placed = bool(query.countries or query.cities)
    clauses = [
        "r.kind = ?" if kind_index or placed else "+r.kind = ?",
        "r.superseded_by IS NULL",
        "r.retracted_by IS NULL",
        "r.erased_ms IS NULL",
    ]
    params: list[Any] = [query.kind]
    _in("r.audience", query.audiences or ("",), clauses, params)
    # Of the filters with an index in created order (migration 9), only the one likely
    # to match fewest records keeps its index when several are given: SQLite has no
    # statistics to tell a city with 13 records from a status with 200,000, and
    # walking the wrong one read 200,000 rows for a page of 50. A unary + hides the
    # others' indexes; their terms still filter.
    given = [name for name, values in _SELECTIVE if getattr(query, values)]
    indexed = given[0] if given else None
    plain = {name: (name if name == indexed else f"+{name}") for name, _ in _SELECTIVE}
    _in(plain["r.country"], query.countries, clauses, params)
    _in("r.region", query.regions, clauses, params)
    _in(plain["r.city"], query.cities, clauses, params)
    _in("r.origin", query.origins, clauses, params)
    _in("r.category", query.categories, clauses, params)
    _in("r.technology", query.technologies, clauses, params)
    _in("r.agency COLLATE NOCASE", query.agencies, clauses, params)
    _in(plain["r.status"], query.statuses, clauses, params)
    _in(plain["r.frt"], query.frt, clauses, params)
    _in("r.agency_ref", query.agency_refs, clauses, params)
    if query.unanswered:
        marks, listed = expand_in(query.unanswered)
        clauses.append(f"r.status NOT IN {marks}")
        params.extend(listed)
    bounds: tuple[tuple[str, str, Any], ...] = (
        ("r.occurred_on", ">=", query.occurred_from),
        ("r.occurred_on", "<=", query.occurred_to),
        ("r.created_ms", ">=", query.created_from_ms),
        ("r.created_ms", "<=", query.created_to_ms),
        ("r.due_on", ">=", query.due_from),
        ("r.due_on", "<=", query.due_to),
    )
    for column, operator, value in bounds:
        if value is not None:
            clauses.append(f"{column} {operator} ?")
            params.append(value)
    if query.open_on is not None:
        clauses.append("COALESCE(r.occurred_on, '') <= ? AND COALESCE(r.due_on, '9') >= ?")
        params.extend((query.open_on, query.open_on))
    if query.area_prefix is not None:
        if not kind_index and _area_scan(query):
            # The literal lets a scan use records_map_areas, a partial index of incidents.
            clauses.append("r.kind = 'incident'")
        # '{' sorts just after 'z', the last letter of the geohash alphabet: an index range.
        clauses.append("r.area >= ? AND r.area < ?")
        params.extend((query.area_prefix, query.area_prefix + "{"))
    if query.bbox is not None:
        min_lat, min_lon, max_lat, max_lon = query.bbox
        clauses.append("r.lat_e7 BETWEEN ? AND ?")
        params.extend((min_lat, max_lat))
        joiner = "AND" if min_lon <= max_lon else "OR"
        clauses.append(f"(r.lon_e7 >= ? {joiner} r.lon_e7 <= ?)")
        params.extend((min_lon, max_lon))
    if query.text is not None:
        clauses.append("r.rid IN (SELECT rowid FROM summaries WHERE summaries MATCH ?)")
        params.append(fts_match(query.text))
    return " AND ".join(clauses), params
