"""An ingest batch into the stats rollups: its deltas summed in memory, one upsert per row.

The tables are :mod:`storage.rollup`'s ``stats_rollup`` and ``stats_cells`` and
:mod:`storage.facets`' ``stats_facets``. The batch's rows are at hand in the
ingest transaction (the values just inserted), so they are summed here per
table row, and each table then gets one upsert per distinct row the batch
touches, in key order, in the same transaction: the counts stay exact at
every commit. A ``stats_cells`` row also counts its distinct chapters: an
origin is new to a cell when ``stats_rollup`` held no row of it there before
the batch (of any audience for ``all``, of ``public`` for ``public``), which one
indexed look-up per batch reads for all of the batch's (cell, origin) pairs.

This replaced two ``INSERT ... SELECT`` statements that read the batch's rows
back from ``records`` twice and grouped them; bench/README.md has what each
cost. Records leaving (later versions, retractions, erasure) are taken out by
the triggers of migrations 5 and 15, which must find them counted: call
:func:`add_batch` before anything marks the batch's records superseded.
"""

import sqlite3
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any, Final

from storage import facets
from storage.sql import statement

# What add_batch reads of each inserted row (records' columns), in this order.
ROW_COLUMNS: Final = (
    "kind",
    "origin",
    "audience",
    "country",
    "city",
    "category",
    "technology",
    "status",
    "frt",
    "occurred_on",
)
_KINDS: Final = frozenset({"incident", "deployment"})
_LOOKUP_CHUNK: Final = 1000  # (cell, origin) pairs per look-up: 5 bound values each

_ROLLUP_UPSERT: Final = (
    "INSERT INTO stats_rollup VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO UPDATE SET records = records + excluded.records, "
    "first = MIN(first, excluded.first), last = MAX(last, excluded.last)"
)
_CELLS_UPSERT: Final = (
    "INSERT INTO stats_cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO UPDATE SET records = records + excluded.records, "
    "chapters = chapters + excluded.chapters, "
    "first = MIN(first, excluded.first), last = MAX(last, excluded.last)"
)

# (kind, country, category, month, origin, audience) -> [records, first, last]
RollupSums = dict[tuple[Any, ...], list[Any]]


def add_batch(
    conn: sqlite3.Connection, rows: Iterable[Sequence[Any]], columns: Sequence[str]
) -> None:
    """Count the rows just inserted into ``records`` (each the values of ``columns``,
    which include :data:`ROW_COLUMNS`) in the rollups.

    Every inserted incident and deployment counts, tombstones too, as current: the
    triggers take out what the rest of the transaction supersedes or withdraws."""
    sums: RollupSums = {}
    public: dict[tuple[str, ...], int] = {}
    pick = itemgetter(*(columns.index(column) for column in ROW_COLUMNS))
    for kind, origin, audience, country, city, category, technology, status, frt, day in map(
        pick, rows
    ):
        if kind not in _KINDS:
            continue
        month = day[:7] if day else ""
        key = (kind, country or "", category or "", month, origin, audience)
        found = sums.get(key)
        if found is None:
            sums[key] = [1, day, day]
        else:
            found[0] += 1
            # A row's records all have a day, or none has (its month is '').
            if day is not None and day < found[1]:
                found[1] = day
            if day is not None and day > found[2]:
                found[2] = day
        if audience == "public":
            facet = (
                kind,
                key[1],
                city or "",
                key[2],
                technology or "",
                status or "",
                frt or "",
                month,
            )
            public[facet] = public.get(facet, 0) + 1
    if not sums:
        return
    cells = _cells(sums, _held(conn, sums))
    conn.executemany(_ROLLUP_UPSERT, [(*key, *v) for key, v in sorted(sums.items())])
    conn.executemany(_CELLS_UPSERT, cells)
    conn.executemany(facets.UPSERT, [(*key, n) for key, n in sorted(public.items())])


def _held(conn: sqlite3.Connection, sums: RollupSums) -> dict[tuple[Any, ...], set[str]]:
    """The audiences ``stats_rollup`` holds, before the batch, for each of the batch's
    (kind, country, category, month, origin): a primary-key seek for each."""
    pairs = sorted({key[:5] for key in sums})
    held: dict[tuple[Any, ...], set[str]] = {}
    for start in range(0, len(pairs), _LOOKUP_CHUNK):
        chunk = pairs[start : start + _LOOKUP_CHUNK]
        values = ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk))
        sql = statement(
            "WITH b(kind, country, category, month, origin) AS (VALUES {values}) "
            "SELECT u.kind, u.country, u.category, u.month, u.origin, u.audience "
            "FROM b JOIN stats_rollup u ON u.kind = b.kind AND u.country = b.country "
            "AND u.category = b.category AND u.month = b.month AND u.origin = b.origin",
            values=values,
        )
        params = [value for pair in chunk for value in pair]
        for *pair, audience in conn.execute(sql, params):
            held.setdefault(tuple(pair), set()).add(audience)
    return held


def _cells(sums: RollupSums, held: dict[tuple[Any, ...], set[str]]) -> list[tuple[Any, ...]]:
    """The ``stats_cells`` rows to add, in key order: per cell and visibility, the
    batch's records, the chapters new to the cell, and its first and last days."""
    cells: dict[tuple[Any, ...], list[Any]] = {}
    for (kind, country, category, month, origin, audience), (n, first, last) in sums.items():
        before = held.get((kind, country, category, month, origin), set())
        seen = [("all", not before)]
        if audience == "public":
            seen.append(("public", "public" not in before))
        for visibility, fresh in seen:
            cell = (kind, visibility, country, category, month)
            found = cells.get(cell)
            if found is None:
                found = cells[cell] = [0, set(), first, last]
            elif first is not None:
                found[2] = min(found[2], first)
                found[3] = max(found[3], last)
            found[0] += n
            if fresh:
                found[1].add(origin)
    return [
        (*cell, n, len(new), first, last) for cell, (n, new, first, last) in sorted(cells.items())
    ]
