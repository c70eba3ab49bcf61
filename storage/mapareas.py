"""The map's rollup of incidents: how many current ones each area cell holds, kept exact
on every write.

The map shows incidents only as counts per area cell (:mod:`storage.areacells`).
Counting them from the records took 25-50 ms of SQL on the bench's node (100,000
incidents in 15,806 cells: one ``GROUP BY`` over the ``records_map_areas`` index),
paid by the first tile or GeoJSON view after a write (bench/README.md, "The
incident groups from a rollup"). ``map_areas`` holds, per audience and area cell,
how many current incidents there are, so reading the groups is reading about
16,000 short rows in key order.

Only the audience and the cell are kept: they are what the map's common read (no
filter but the audience) needs, and what a filter on the area (a geohash prefix)
can range over. Any other filter (a city, a category, dates) is counted from the
records as before (:func:`answerable`); a city or a category selects a few
thousand incidents at most, cheap to count, while adding country and city to the
key would multiply the rows every unfiltered read sums.

As with :mod:`storage.mapgrid`, the ingest transaction adds each batch with
:func:`add_batch` (set-based, one statement per batch) before versions apply,
and triggers on ``records`` (:data:`MIGRATION`, migration 17) take an incident
out when a later version supersedes it or a retraction withdraws or erases it,
and put it back if it ever becomes current again. An incident's area and
audience are query columns set once at insert, so what a trigger subtracts is
what the batch added.
"""

import sqlite3
from dataclasses import replace
from typing import Any, Final

from storage.filters import QueryFilter
from storage.sql import current, expand_in, statement

_ADD = statement(
    "INSERT INTO map_areas SELECT r.audience, r.area, COUNT(*) FROM records r "
    "WHERE r.kind = 'incident' AND r.area IS NOT NULL AND {current} {rids} "
    "GROUP BY 1, 2 ON CONFLICT DO UPDATE SET records = records + excluded.records",
    current=current("r"),
    rids="{rids}",
)
ADD_BATCH: Final = _ADD.format(rids="AND r.rid BETWEEN ?1 AND ?2")

MIGRATION: Final = statement(
    """
CREATE TABLE map_areas (
    audience TEXT NOT NULL,
    area     TEXT NOT NULL,                -- an incident's area cell (a geohash)
    records  INTEGER NOT NULL,             -- current incidents with this key, never 0
    PRIMARY KEY (audience, area)
) WITHOUT ROWID;
{fill};

-- An incident stops being current (a later version, a retraction, an erasure).
CREATE TRIGGER map_areas_remove
AFTER UPDATE OF superseded_by, retracted_by, erased_ms ON records
WHEN OLD.kind = 'incident' AND OLD.area IS NOT NULL AND {old_current} AND NOT ({new_current})
BEGIN
    UPDATE map_areas SET records = records - 1
    WHERE audience = OLD.audience AND area = OLD.area;
    DELETE FROM map_areas WHERE audience = OLD.audience AND area = OLD.area AND records = 0;
END;

-- ... or current again (nothing does that yet; kept so the rollup follows any such update).
CREATE TRIGGER map_areas_restore
AFTER UPDATE OF superseded_by, retracted_by, erased_ms ON records
WHEN NEW.kind = 'incident' AND NEW.area IS NOT NULL AND NOT ({old_current}) AND {new_current}
BEGIN
    INSERT INTO map_areas VALUES (NEW.audience, NEW.area, 1)
    ON CONFLICT DO UPDATE SET records = records + 1;
END;
""",
    fill=_ADD.format(rids=""),
    old_current=current("OLD"),
    new_current=current("NEW"),
)

_ANY_AUDIENCE: Final = QueryFilter(kind="incident", audiences=())


def add_batch(conn: sqlite3.Connection, first_rid: int, last_rid: int) -> None:
    """Count the incidents just inserted as ``first_rid..last_rid``; in the inserting
    transaction (on the writer's thread: ``Database.write``), before anything marks
    them superseded or retracted."""
    conn.execute(ADD_BATCH, (first_rid, last_rid))


def answerable(query: QueryFilter) -> bool:
    """Whether ``map_areas`` answers ``query`` exactly: incidents selected by audience
    and area prefix only (any other field set needs the records themselves)."""
    return replace(query, audiences=(), area_prefix=None) == _ANY_AUDIENCE


def counts_sql(query: QueryFilter) -> tuple[str, list[Any]]:
    """The statement giving (area, incidents) per cell for an :func:`answerable` query.

    One audience (the site's ``public``) has one row per cell: read as they are, in
    key order (summing them too doubled the read's 6-7 ms of CPU over 15,806 cells);
    several are summed per cell."""
    audiences = query.audiences or ("",)
    marks, params = expand_in(audiences)
    clauses = [f"audience IN {marks}"]
    if query.area_prefix is not None:
        # '{' sorts just after 'z', the last letter of the geohash alphabet: a key range.
        clauses.append("area >= ? AND area < ?")
        params.extend((query.area_prefix, query.area_prefix + "{"))
    sql = statement(
        "SELECT area, records FROM map_areas WHERE {where}"
        if len(set(audiences)) == 1
        else "SELECT area, SUM(records) FROM map_areas WHERE {where} GROUP BY area",
        where=" AND ".join(clauses),
    )
    return sql, params
