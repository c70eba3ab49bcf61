"""The map's rollup of deployments: how many fall in each grid cell, kept exact on every write.

A map tile at a low zoom shows deployments as clusters with counts. Counting a
million rows per tile is far too slow (bench/README.md), so ``map_grid`` holds,
for a few grid levels, the current deployments of each cell by audience,
country, city, status and FRT capability, with the sums of their coordinates (a
cluster is drawn at its members' mean position, and a cell holding one
deployment gives its exact point).

A grid level ``s`` cuts the world into squares of ``2**s`` 1e-7 degrees: a point
is in column ``(lon_e7 + 1800000000) >> s`` and row ``(lat_e7 + 900000000) >> s``,
integers SQLite computes as exactly as Python. :data:`LEVELS` are chosen by
measurement (bench/README.md, "Grid levels"): every level from 15 to 18, where
the clusters of zooms 9 to 12 are read and a dense city's box holds tens of
thousands of stored cells, then every third (migration 10 stored every third
from 15: New York's zoom-10 box summed 45,466 level-15 rows, 34 ms of CPU, where
a stored level 17 gives 6,596 rows, 7 ms). Coarser levels are at most two shifts
of a stored one (each cell sums at most 16 stored cells), a few hundred rows in
any box; each stored level is one more upsert per deployment per ingest batch.

As with :mod:`storage.rollup`, the ingest transaction adds each batch with
:func:`add_batch` (set-based, one statement per batch), and triggers on
``records`` (migration 10, :data:`MIGRATION`; they read the levels from
``map_levels``, so migration 19 left them as they were) take a deployment out
when a later version supersedes it or a retraction withdraws or erases it. A deployment's
point, status and FRT capability are query columns, set once at insert, so what
the trigger subtracts is what the batch added. Country or city ``''`` stands for none.
"""

import sqlite3
from typing import Any, Final

from storage.filters import QueryFilter
from storage.sql import current, expand_in, statement

LEVELS: Final = (15, 16, 17, 18, 21, 24, 27)
# Migration 10's levels (its text stays as it was: a database built then is upgraded by 18).
V10_LEVELS: Final = (15, 18, 21, 24, 27)
LON_OFFSET: Final = 1_800_000_000
LAT_OFFSET: Final = 900_000_000

_CELLS = (
    "SELECT l.level AS level, ({r}.lon_e7 + 1800000000) >> l.level AS cx, "
    "({r}.lat_e7 + 900000000) >> l.level AS cy FROM map_levels l"
)
_KEY = (
    "audience = {r}.audience AND country = COALESCE({r}.country, '') "
    "AND city = COALESCE({r}.city, '') "
    "AND status = COALESCE({r}.status, '') AND frt = COALESCE({r}.frt, '')"
)
_ADD = statement(
    "INSERT INTO map_grid SELECT l.level, (r.lon_e7 + 1800000000) >> l.level, "
    "(r.lat_e7 + 900000000) >> l.level, r.audience, COALESCE(r.country, ''), "
    "COALESCE(r.city, ''), COALESCE(r.status, ''), COALESCE(r.frt, ''), "
    "COUNT(*), SUM(r.lat_e7), SUM(r.lon_e7) "
    "FROM records r JOIN map_levels l "
    "WHERE r.kind = 'deployment' AND r.lat_e7 IS NOT NULL AND r.lon_e7 IS NOT NULL "
    "AND {current} {rids} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 "
    "ON CONFLICT DO UPDATE SET records = records + excluded.records, "
    "sum_lat = sum_lat + excluded.sum_lat, sum_lon = sum_lon + excluded.sum_lon",
    current=current("r"),
    rids="{rids}",
)
ADD_BATCH: Final = _ADD.format(rids="AND r.rid BETWEEN ?1 AND ?2")
# Every current deployment counted at each level of map_levels (into an empty grid).
FILL: Final = _ADD.format(rids="")

MIGRATION: Final = statement(
    """
CREATE TABLE map_levels (level INTEGER PRIMARY KEY);
INSERT INTO map_levels VALUES {levels};
CREATE TABLE map_grid (
    level    INTEGER NOT NULL,             -- the grid's shift, one of map_levels
    cx       INTEGER NOT NULL,             -- (lon_e7 + 1800000000) >> level
    cy       INTEGER NOT NULL,             -- (lat_e7 + 900000000) >> level
    audience TEXT NOT NULL,
    country  TEXT NOT NULL,                -- '' for none
    city     TEXT NOT NULL,                -- '' for none
    status   TEXT NOT NULL,
    frt      TEXT NOT NULL,
    records  INTEGER NOT NULL,             -- current deployments with this key, never 0
    sum_lat  INTEGER NOT NULL,             -- the sum of their lat_e7
    sum_lon  INTEGER NOT NULL,             -- ... and of their lon_e7
    PRIMARY KEY (level, cx, cy, audience, country, city, status, frt)
) WITHOUT ROWID;
{fill};
-- The deployments of a tile from zoom 12 (storage.mapdata): a range of latitudes read
-- from the index alone, filtered by longitude, audience, status and FRT in it.
CREATE INDEX records_map_points ON records (lat_e7, lon_e7, audience, status, frt)
    WHERE kind = 'deployment' AND lat_e7 IS NOT NULL AND {current};
-- Incidents counted per area cell (storage.mapdata), from the index alone when unfiltered.
CREATE INDEX records_map_areas ON records (audience, area)
    WHERE kind = 'incident' AND area IS NOT NULL AND {current};

CREATE TRIGGER map_grid_remove
AFTER UPDATE OF superseded_by, retracted_by, erased_ms ON records
WHEN OLD.kind = 'deployment' AND OLD.lat_e7 IS NOT NULL AND OLD.lon_e7 IS NOT NULL
    AND {old_current} AND NOT ({new_current})
BEGIN
    UPDATE map_grid SET records = records - 1,
        sum_lat = sum_lat - OLD.lat_e7, sum_lon = sum_lon - OLD.lon_e7
    WHERE (level, cx, cy) IN ({old_cells}) AND {old_key};
    DELETE FROM map_grid WHERE (level, cx, cy) IN ({old_cells}) AND {old_key} AND records = 0;
END;

-- ... or current again (nothing does that yet; kept so the grid follows any such update).
CREATE TRIGGER map_grid_restore
AFTER UPDATE OF superseded_by, retracted_by, erased_ms ON records
WHEN NEW.kind = 'deployment' AND NEW.lat_e7 IS NOT NULL AND NEW.lon_e7 IS NOT NULL
    AND NOT ({old_current}) AND {new_current}
BEGIN
    INSERT INTO map_grid SELECT l.level, (NEW.lon_e7 + 1800000000) >> l.level,
        (NEW.lat_e7 + 900000000) >> l.level, NEW.audience, COALESCE(NEW.country, ''),
        COALESCE(NEW.city, ''), COALESCE(NEW.status, ''), COALESCE(NEW.frt, ''),
        1, NEW.lat_e7, NEW.lon_e7
    FROM map_levels l WHERE true
    ON CONFLICT DO UPDATE SET records = records + 1,
        sum_lat = sum_lat + excluded.sum_lat, sum_lon = sum_lon + excluded.sum_lon;
END;
""",
    levels=", ".join(f"({level})" for level in V10_LEVELS),
    fill=FILL,
    current=current("records"),
    old_current=current("OLD"),
    new_current=current("NEW"),
    old_cells=_CELLS.format(r="OLD"),
    old_key=_KEY.format(r="OLD"),
)

_KEPT = tuple(level for level in LEVELS if level in V10_LEVELS)
# Migration 19: the levels of :data:`LEVELS`, the rows of the new ones counted from the
# records (those of any level no longer stored dropped: none for these). Run again (a
# test taking a database back to an earlier version), it gives the same table.
LEVELS_MIGRATION: Final = statement(
    """
DELETE FROM map_grid WHERE level NOT IN {kept};
DELETE FROM map_levels;
INSERT INTO map_levels VALUES {levels};
{fill};
""",
    kept="(" + ", ".join(str(level) for level in _KEPT) + ")",
    levels=", ".join(f"({level})" for level in LEVELS),
    fill=_ADD.format(rids="AND l.level NOT IN (" + ", ".join(str(level) for level in _KEPT) + ")"),
)


def add_batch(conn: sqlite3.Connection, first_rid: int, last_rid: int) -> None:
    """Count the deployments just inserted as ``first_rid..last_rid`` in the grid; in
    the inserting transaction (on the writer's thread: ``Database.write``), before
    anything marks them superseded or retracted."""
    conn.execute(ADD_BATCH, (first_rid, last_rid))


def stored_level(level: int) -> int:
    """The stored level a grid of ``level`` is read from: itself from 15 to 18, at most
    two shifts finer above."""
    for stored in reversed(LEVELS):
        if stored <= level:
            return stored
    return LEVELS[0]


def answerable(query: QueryFilter) -> bool:
    """Whether ``map_grid`` answers ``query`` exactly: only audience, country, city,
    status and FRT filters (a date range needs the records themselves)."""
    return (
        query.kind == "deployment"
        and not (query.regions or query.origins or query.categories)
        and not (query.technologies or query.agencies)
        and query.occurred_from is None
        and query.occurred_to is None
        and query.created_from_ms is None
        and query.created_to_ms is None
        and query.area_prefix is None
        and query.text is None
        and "" not in query.countries
        and "" not in query.cities
    )


def grid_where(query: QueryFilter) -> tuple[str, list[Any]]:
    """The condition over ``map_grid g`` for an :func:`answerable` query, beyond its cells."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, values in (
        ("g.audience", query.audiences or ("",)),
        ("g.country", query.countries),
        ("g.city", query.cities),
        ("g.status", query.statuses),
        ("g.frt", query.frt),
    ):
        if values:
            marks, listed = expand_in(values)
            clauses.append(f"{column} IN {marks}")
            params.extend(listed)
    return " AND ".join(clauses), params
