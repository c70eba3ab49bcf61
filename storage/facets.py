"""The public site's counts: current public records per value of every filter a page offers.

The figures page counts incidents by technology and cameras by status and by
city, and a list page's heading counts the matches of any filter; over a
million cameras each was a pass over the records (0.3-1.2 s of CPU, and 194 ms
for a list filtered by technology and a date, bench/README.md). The site only
ever shows ``public`` records, so ``stats_facets`` holds, for them alone, one
row per (kind, country, city, category, technology, status, FRT capability,
month of ``occurred_on``) with its number of current records: about 57,000
rows for a million cameras and 70,000 for 100,000 incidents. Any count of
public records filtered and grouped by those columns and whole months is a sum
over it, exact.

The ingest transaction adds each batch (:func:`storage.rollup.add_batch`,
summed in memory); triggers on ``records`` (:data:`MIGRATION`) take a record
out when a later version supersedes it or a retraction withdraws or erases it.
The columns are query columns set once at insert, so what a trigger subtracts
is what the batch added. ``''`` stands for NULL in the key, as in
:mod:`storage.rollup`; every value a filter binds is non-empty. A whole-month
date range is a range of months: ``occurred_on`` is always a full ISO day, so a
record's day is on or after the first of a month exactly when its month is.

Nothing here is shown per area cell, so it needs no folding of small groups:
the pages that show incident counts by a key fold them as before
(:mod:`node.web.disclosure`).
"""

import dataclasses
from collections.abc import Sequence
from typing import Any, Final

import aiosqlite

from storage.filters import QueryFilter
from storage.rollup import month_end, month_start
from storage.sql import current, expand_in, statement

# QueryFilter field -> the stats_facets column it filters, in the key's order.
FILTERED: Final = {
    "countries": "country",
    "cities": "city",
    "categories": "category",
    "technologies": "technology",
    "statuses": "status",
    "frt": "frt",
}
# A group key of storage.stats -> what it reads in stats_facets ('' back to NULL).
GROUPS: Final = {
    "country": "NULLIF(u.country, '')",
    "city": "NULLIF(u.city, '')",
    "category": "NULLIF(u.category, '')",
    "technology": "NULLIF(u.technology, '')",
    "status": "NULLIF(u.status, '')",
    "month": "NULLIF(u.month, '')",
    "year": "NULLIF(substr(u.month, 1, 4), '')",
}

_KEY = (
    "kind = {r}.kind AND country = COALESCE({r}.country, '') "
    "AND city = COALESCE({r}.city, '') AND category = COALESCE({r}.category, '') "
    "AND technology = COALESCE({r}.technology, '') AND status = COALESCE({r}.status, '') "
    "AND frt = COALESCE({r}.frt, '') AND month = COALESCE(substr({r}.occurred_on, 1, 7), '')"
)
_VALUES = (
    "{r}.kind, COALESCE({r}.country, ''), COALESCE({r}.city, ''), "
    "COALESCE({r}.category, ''), COALESCE({r}.technology, ''), COALESCE({r}.status, ''), "
    "COALESCE({r}.frt, ''), COALESCE(substr({r}.occurred_on, 1, 7), '')"
)
_WHEN = "{r}.kind IN ('incident', 'deployment') AND {r}.audience = 'public'"

MIGRATION: Final = statement(
    """
CREATE TABLE stats_facets (
    kind       TEXT NOT NULL,
    country    TEXT NOT NULL,              -- '' for none, in every column of the key
    city       TEXT NOT NULL,
    category   TEXT NOT NULL,
    technology TEXT NOT NULL,
    status     TEXT NOT NULL,
    frt        TEXT NOT NULL,
    month      TEXT NOT NULL,              -- substr(occurred_on, 1, 7)
    records    INTEGER NOT NULL,           -- current public records with this key, never 0
    PRIMARY KEY (kind, country, city, category, technology, status, frt, month)
) WITHOUT ROWID;
INSERT INTO stats_facets
    SELECT {values_r}, COUNT(*) FROM records r
    WHERE {when_r} AND {current_r}
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

-- A public record stops being current (a later version, a retraction) ...
CREATE TRIGGER stats_facets_remove
AFTER UPDATE OF superseded_by, retracted_by, erased_ms ON records
WHEN {when_old} AND {current_old} AND NOT ({current_new})
BEGIN
    UPDATE stats_facets SET records = records - 1 WHERE {key_old};
    DELETE FROM stats_facets WHERE {key_old} AND records = 0;
END;

-- ... or current again (nothing does that yet; kept so the counts follow any such update).
CREATE TRIGGER stats_facets_restore
AFTER UPDATE OF superseded_by, retracted_by, erased_ms ON records
WHEN {when_new} AND NOT ({current_old}) AND {current_new}
BEGIN
    INSERT INTO stats_facets VALUES ({values_new}, 1)
        ON CONFLICT DO UPDATE SET records = records + 1;
END;
""",
    values_r=_VALUES.format(r="r"),
    values_new=_VALUES.format(r="NEW"),
    when_r=_WHEN.format(r="r"),
    when_old=_WHEN.format(r="OLD"),
    when_new=_WHEN.format(r="NEW"),
    current_r=current("r"),
    current_old=current("OLD"),
    current_new=current("NEW"),
    key_old=_KEY.format(r="OLD"),
)
UPSERT: Final = (
    "INSERT INTO stats_facets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO UPDATE SET records = records + excluded.records"
)


def answerable(query: QueryFilter, keys: Sequence[str]) -> bool:
    """Whether ``stats_facets`` counts ``query``'s matches grouped by ``keys`` exactly:
    public records of a kind, filtered by its columns and whole months only."""
    empty: dict[str, Any] = {field: () for field in FILTERED}
    cleared = dataclasses.replace(query, occurred_from=None, occurred_to=None, **empty)
    return (
        query.kind in ("incident", "deployment")
        and set(query.audiences) == {"public"}
        and cleared == QueryFilter(kind=query.kind, audiences=query.audiences)
        and all(k in GROUPS for k in keys)
        and all("" not in getattr(query, field) for field in FILTERED)
        and month_start(query.occurred_from)
        and month_end(query.occurred_to)
    )


def facets_where(query: QueryFilter) -> tuple[str, list[Any]]:
    """The condition over ``stats_facets u`` that an :func:`answerable` query selects."""
    clauses: list[str] = ["u.kind = ?"]
    params: list[Any] = [query.kind]
    for field, column in FILTERED.items():
        values = getattr(query, field)
        if values:
            marks, listed = expand_in(values)
            clauses.append(f"u.{column} IN {marks}")
            params.extend(listed)
    if query.occurred_from is not None or query.occurred_to is not None:
        # A record with no date matches no date bound: its month is '', before '0'.
        clauses.append("u.month BETWEEN ? AND ?")
        params += [(query.occurred_from or "0")[:7], (query.occurred_to or "9")[:7]]
    return " AND ".join(clauses), params


async def facet_counts(
    reader: aiosqlite.Connection, query: QueryFilter, keys: Sequence[str]
) -> list[tuple[dict[str, str | bytes | None], int]]:
    """The matches of an :func:`answerable` ``query`` per group of ``keys`` (one group,
    keyed by nothing, without keys), as :func:`storage.stats.scan_counts` counts them."""
    where, params = facets_where(query)
    expressions = ", ".join([*(f"{GROUPS[k]} AS g{i}" for i, k in enumerate(keys)), ""])
    grouped = f"GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))}" if keys else ""
    sql = statement(
        "SELECT {expressions} SUM(u.records) FROM stats_facets u WHERE {where} {grouped}",
        expressions=expressions,
        where=where,
        grouped=grouped,
    )
    async with reader.execute(sql, params) as cursor:
        counted = [
            (dict(zip(keys, row[:-1], strict=True)), int(row[-1] or 0)) async for row in cursor
        ]
    if keys:
        return [(values, count) for values, count in counted if count]
    return counted
