"""Aggregates of current incidents and deployments: counts, chapters, first and last.

:func:`stats` answers from the rollup (:mod:`storage.rollup`) when it answers
exactly, else by :func:`scan_stats` over ``records``; both give the same
answer, and a test compares them.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from storage import rollup
from storage.filters import QueryFilter, scan_source, where_clause
from storage.sql import statement

GROUP_KEYS = (
    "country",
    "region",
    "city",
    "category",
    "technology",
    "agency",
    "status",
    "origin",
    "month",
    "week",
    "year",
)
PERIODS = ("month", "week", "year")
_MEASURES = "COUNT(*), COUNT(DISTINCT r.origin), MIN(r.occurred_on), MAX(r.occurred_on)"

# The Thursday of occurred_on's ISO week decides the ISO year and week number
# (this SQLite may predate strftime's %G and %V).
_THURSDAY = (
    "date(r.occurred_on, '-' || ((CAST(strftime('%w', r.occurred_on) AS INTEGER) + 6) % 7)"
    " || ' days', '+3 days')"
)
_GROUP_SQL = {
    "country": "r.country",
    "region": "r.region",
    "city": "r.city",
    "category": "r.category",
    "technology": "r.technology",
    "agency": "r.agency",
    "status": "r.status",
    "origin": "r.origin",
    "month": "substr(r.occurred_on, 1, 7)",
    "year": "substr(r.occurred_on, 1, 4)",
    "week": f"strftime('%Y', {_THURSDAY}) || '-W' || "
    f"printf('%02d', (CAST(strftime('%j', {_THURSDAY}) AS INTEGER) - 1) / 7 + 1)",
}


@dataclass(slots=True)  # not frozen: building 20,000 frozen ones cost a tenth of a stats request
class StatsGroup:
    """One group of an aggregate; ``keys`` maps each group_by name to its value
    (``origin`` as the 32-byte key, the others as text, None where a record has none)."""

    keys: dict[str, str | bytes | None]
    count: int
    chapters: int
    first: str | None
    last: str | None


@dataclass(frozen=True, slots=True)
class Stats:
    groups: list[StatsGroup]
    total: StatsGroup


async def stats(
    reader: aiosqlite.Connection,
    query: QueryFilter,
    group_by: Sequence[str],
    period: str | None = None,
) -> Stats:
    """Counts, distinct origins and first and last ``occurred_on`` per group and in total.

    ``group_by`` names come from :data:`GROUP_KEYS`; ``period`` (one of
    :data:`PERIODS`) adds a time series key when not already grouped by it.
    Answered from the rollup (:mod:`storage.rollup`) when it can be, else by
    :func:`scan_stats`; both give the same answer.
    """
    keys = stats_keys(group_by, period)
    if rollup.answerable(query, keys):
        return await _rollup_stats(reader, query, keys)
    return await scan_stats(reader, query, keys)


async def scan_stats(
    reader: aiosqlite.Connection,
    query: QueryFilter,
    group_by: Sequence[str],
    period: str | None = None,
) -> Stats:
    """:func:`stats` computed from the records themselves, for any filter and grouping."""
    keys = stats_keys(group_by, period)
    groups = await scan_groups(reader, query, keys) if keys else []
    where, params = where_clause(query, kind_index=False)
    sql = statement(
        "SELECT {measures} FROM {source} WHERE {where}",
        measures=_MEASURES,
        source=scan_source(query),
        where=where,
    )
    async with reader.execute(sql, params) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return Stats(groups, StatsGroup({}, *row))


async def scan_groups(
    reader: aiosqlite.Connection, query: QueryFilter, keys: Sequence[str]
) -> list[StatsGroup]:
    """The groups of :func:`scan_stats` without its total: one pass over the records."""
    # Aggregates read most rows of a kind: walking a kind index with a table lookup
    # per row measured slower than a scan (bench/query.py, 1,000,000 records).
    where, params = where_clause(query, kind_index=False)
    # With a country or a city the kind is visible (storage.filters), and SQLite then
    # walked every record of the kind through records_current_rollup for its origin
    # order rather than read the place's own index and sort (deployments of Kenya and
    # the Netherlands by chapter and month: 168 ms, not 18). A unary + hides that order.
    placed = query.countries or query.cities
    group_sql = {**_GROUP_SQL, "origin": "+r.origin"} if placed else _GROUP_SQL
    expressions = ", ".join(f"{group_sql[k]} AS g{i}" for i, k in enumerate(keys))
    positions = ", ".join(str(i + 1) for i in range(len(keys)))
    sql = statement(
        "SELECT {expressions}, {measures} FROM {source} "
        "WHERE {where} GROUP BY {positions} ORDER BY {positions}",
        expressions=expressions,
        measures=_MEASURES,
        source=scan_source(query),
        where=where,
        positions=positions,
    )
    groups: list[StatsGroup] = []
    async with reader.execute(sql, params) as cursor:
        async for values in cursor:
            groups.append(
                StatsGroup(dict(zip(keys, values[: len(keys)], strict=True)), *values[-4:])
            )
    return groups


async def scan_counts(
    reader: aiosqlite.Connection, query: QueryFilter, keys: Sequence[str]
) -> list[tuple[dict[str, str | bytes | None], int]]:
    """How many records match per group of ``keys``, and nothing else: one pass over
    the records that a kind's current index can serve (the figures page's cameras by
    status and city took 1.2-1.7 s of CPU with the chapters, first and last measured
    and the kind index off, 0.7 s like this, on a million cameras)."""
    where, params = where_clause(query)
    expressions = ", ".join(f"{_GROUP_SQL[k]} AS g{i}" for i, k in enumerate(keys))
    positions = ", ".join(str(i + 1) for i in range(len(keys)))
    sql = statement(
        "SELECT {expressions}, COUNT(*) FROM records r WHERE {where} GROUP BY {positions}",
        expressions=expressions,
        where=where,
        positions=positions,
    )
    async with reader.execute(sql, params) as cursor:
        return [(dict(zip(keys, row[:-1], strict=True)), int(row[-1])) async for row in cursor]


async def _rollup_stats(
    reader: aiosqlite.Connection, query: QueryFilter, keys: Sequence[str]
) -> Stats:
    groups = await _rollup_groups(reader, query, keys)
    where, params = rollup.rollup_where(query, cells=False)
    if keys:
        # Groups split the selection without overlap: the total's count, first and
        # last follow from them; only its distinct chapters need the rollup again.
        count = sum(g.count for g in groups)
        first = min((g.first for g in groups if g.first is not None), default=None)
        last = max((g.last for g in groups if g.last is not None), default=None)
    else:
        sql = statement(
            "SELECT COALESCE(SUM(u.records), 0), MIN(u.first), MAX(u.last) "
            "FROM stats_rollup u WHERE {where}",
            where=where,
        )
        ((count, first, last),) = await reader.execute_fetchall(sql, params)
    # One index seek per chapter (stats_rollup_origin) instead of a DISTINCT scan.
    sql = statement(
        "SELECT COUNT(*) FROM (SELECT DISTINCT origin FROM feeds) AS o "
        "WHERE EXISTS (SELECT 1 FROM stats_rollup u WHERE {where} AND u.origin = o.origin)",
        where=where,
    )
    ((chapters,),) = await reader.execute_fetchall(sql, params)
    return Stats(groups, StatsGroup({}, count, chapters, first, last))


async def _rollup_groups(
    reader: aiosqlite.Connection, query: QueryFilter, keys: Sequence[str]
) -> list[StatsGroup]:
    """The groups of :func:`stats` read from ``stats_cells`` when it has them as they
    are, else summed from ``stats_rollup``."""
    if not keys:
        return []
    visibility = rollup.cells_visibility(query, keys)
    where, params = rollup.rollup_where(query, cells=visibility is not None)
    selected = ", ".join(rollup.ROLLUP_GROUPS[k] for k in keys)
    # Grouping and ordering on the stored columns (where '' sorts as NULL would,
    # first) lets SQLite read stats_cells in key order; NULLIF costs a sort.
    order = ", ".join(rollup.ROLLUP_ORDER[k] for k in keys)
    if visibility is not None:
        sql = statement(
            "SELECT {selected}, u.records, u.chapters, u.first, u.last "
            "FROM stats_cells u WHERE {where} AND u.visibility = ? ORDER BY {order}",
            selected=selected,
            where=where,
            order=order,
        )
        rows = await reader.execute_fetchall(sql, [*params, visibility])
    else:
        sql = statement(
            "SELECT {selected}, SUM(u.records), COUNT(DISTINCT u.origin), "
            "MIN(u.first), MAX(u.last) FROM stats_rollup u WHERE {where} "
            "GROUP BY {order} ORDER BY {order}",
            selected=selected,
            where=where,
            order=order,
        )
        rows = await reader.execute_fetchall(sql, params)
    n = len(keys)
    return [StatsGroup(dict(zip(keys, row[:n], strict=True)), *row[n:]) for row in rows]


def stats_keys(group_by: Sequence[str], period: str | None) -> list[str]:
    """The grouping keys, ``period`` added when not among them; ValueError for an unknown one."""
    keys = list(dict.fromkeys([*group_by, *([period] if period else [])]))
    unknown = [k for k in keys if k not in _GROUP_SQL]
    if unknown:
        raise ValueError(f"cannot group by {unknown[0]!r}")
    return keys
