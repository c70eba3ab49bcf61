"""The stats rollup: aggregates of current records kept at write time, and the SQL that reads them.

``RecordQueries.stats`` over a million records spent seconds scanning and
grouping ``records``; these two tables (and :mod:`storage.facets`' counts of
public records for the site) let the common aggregates read a few
thousand to a few hundred thousand small rows instead:

- ``stats_rollup`` has one row per (kind, country, category, month of
  ``occurred_on``, origin, audience) with the number of current records and
  their first and last ``occurred_on``. Any stats request grouped on
  country, category, month, year and origin, and filtered on those, on the
  audience and on whole months, is answered from it exactly
  (``COUNT(DISTINCT origin)`` over its rows gives the chapters).
- ``stats_cells`` has one row per (kind, visibility, country, category, month)
  with its records, chapters, first and last already summed, for the two sets
  of audiences a reader can see (``public``, or ``all`` three). A request
  grouped by exactly country, category and month reads its rows as they are.

Both stay exact on every write. The ingest transaction adds each batch's
new current records with :func:`storage.rollupadd.add_batch` (summed in
memory, one upsert per table row the batch touches: a trigger per inserted
row cost a quarter of the ingest rate in bench/ingest.py). Triggers on
``records`` (migration 5, :data:`MIGRATION` below; the removal replaced by
migration 15's, :mod:`storage.rollupremove`) take a record out when a later
version supersedes it or a retraction withdraws and erases it, whichever code
makes that update, searching its row's first and last again through an index
(``records_current_rollup``) when it was at an edge, and updating its cells. In the
keys ``''`` stands for NULL, because NULLs never conflict in a unique key;
every value a query binds is non-empty, and reads turn ``''`` back into NULL.

Requests the rollup cannot answer exactly (other filters or groups, days
within a month, full-text search, places) use the scan in
:mod:`storage.stats`; a test compares the two paths.
"""

import datetime
from collections.abc import Sequence
from typing import Any, Final, get_args

from protocol.envelope import Audience
from storage.filters import QueryFilter
from storage.sql import expand_in

# Version 5 (storage.migrations): the two tables, filled from existing records, and the
# triggers that keep them exact (the removal one replaced by migration 15's).
MIGRATION: Final = """
CREATE TABLE stats_rollup (
    kind     TEXT NOT NULL,
    country  TEXT NOT NULL,                -- '' for none
    category TEXT NOT NULL,                -- '' for none
    month    TEXT NOT NULL,                -- substr(occurred_on, 1, 7), '' for none
    origin   BLOB NOT NULL,
    audience TEXT NOT NULL,
    records  INTEGER NOT NULL,             -- current records with this key, never 0
    first    TEXT,                         -- their MIN(occurred_on)
    last     TEXT,                         -- their MAX(occurred_on)
    PRIMARY KEY (kind, country, category, month, origin, audience)
) WITHOUT ROWID;
CREATE INDEX stats_rollup_origin ON stats_rollup (kind, origin, audience);
CREATE TABLE stats_cells (
    kind       TEXT NOT NULL,
    visibility TEXT NOT NULL,              -- 'public': public records; 'all': every audience
    country    TEXT NOT NULL,
    category   TEXT NOT NULL,
    month      TEXT NOT NULL,
    records    INTEGER NOT NULL,
    chapters   INTEGER NOT NULL,           -- distinct origins
    first      TEXT,
    last       TEXT,
    PRIMARY KEY (kind, visibility, country, category, month)
) WITHOUT ROWID;
CREATE INDEX records_current_rollup
    ON records (kind, origin, audience, country, category, occurred_on)
    WHERE records.superseded_by IS NULL AND records.retracted_by IS NULL
        AND records.erased_ms IS NULL;
INSERT INTO stats_rollup
    SELECT records.kind, COALESCE(records.country, ''), COALESCE(records.category, ''),
        COALESCE(substr(records.occurred_on, 1, 7), ''), origin, audience,
        COUNT(*), MIN(occurred_on), MAX(occurred_on)
    FROM records WHERE kind IN ('incident', 'deployment') AND records.superseded_by IS NULL
        AND records.retracted_by IS NULL AND records.erased_ms IS NULL
    GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO stats_cells
    SELECT kind, 'all', country, category, month,
        SUM(records), COUNT(DISTINCT origin), MIN(first), MAX(last)
    FROM stats_rollup GROUP BY kind, country, category, month;
INSERT INTO stats_cells
    SELECT kind, 'public', country, category, month,
        SUM(records), COUNT(origin), MIN(first), MAX(last)
    FROM stats_rollup WHERE audience = 'public' GROUP BY kind, country, category, month;

-- A record stops being current (a later version, a retraction): take it out of its
-- rollup row, recomputing the row's first and last from its current siblings, and
-- rebuild its cell from the rollup.
CREATE TRIGGER stats_rollup_remove
AFTER UPDATE OF superseded_by, retracted_by, erased_ms ON records
WHEN OLD.kind IN ('incident', 'deployment')
    AND OLD.superseded_by IS NULL AND OLD.retracted_by IS NULL AND OLD.erased_ms IS NULL
    AND NOT (NEW.superseded_by IS NULL AND NEW.retracted_by IS NULL AND NEW.erased_ms IS NULL)
BEGIN
    UPDATE stats_rollup SET records = records - 1,
        first = (SELECT MIN(s.occurred_on)
            FROM records s WHERE s.kind = OLD.kind AND s.origin = OLD.origin
                AND s.audience = OLD.audience AND s.country IS OLD.country
                AND s.category IS OLD.category
                AND s.occurred_on BETWEEN substr(OLD.occurred_on, 1, 7) || '-01'
                    AND substr(OLD.occurred_on, 1, 7) || '-31'
                AND s.superseded_by IS NULL AND s.retracted_by IS NULL AND s.erased_ms IS NULL
        ),
        last = (SELECT MAX(s.occurred_on)
            FROM records s WHERE s.kind = OLD.kind AND s.origin = OLD.origin
                AND s.audience = OLD.audience AND s.country IS OLD.country
                AND s.category IS OLD.category
                AND s.occurred_on BETWEEN substr(OLD.occurred_on, 1, 7) || '-01'
                    AND substr(OLD.occurred_on, 1, 7) || '-31'
                AND s.superseded_by IS NULL AND s.retracted_by IS NULL AND s.erased_ms IS NULL
        )
        WHERE kind = OLD.kind AND country = COALESCE(OLD.country, '')
            AND category = COALESCE(OLD.category, '')
            AND month = COALESCE(substr(OLD.occurred_on, 1, 7), '')
            AND origin = OLD.origin AND audience = OLD.audience;
    DELETE FROM stats_rollup WHERE kind = OLD.kind AND country = COALESCE(OLD.country, '')
        AND category = COALESCE(OLD.category, '')
        AND month = COALESCE(substr(OLD.occurred_on, 1, 7), '')
        AND origin = OLD.origin AND audience = OLD.audience AND records = 0;

    DELETE FROM stats_cells WHERE kind = OLD.kind AND country = COALESCE(OLD.country, '')
        AND category = COALESCE(OLD.category, '')
        AND month = COALESCE(substr(OLD.occurred_on, 1, 7), '');
    INSERT INTO stats_cells
        SELECT u.kind, v.visibility, u.country, u.category, u.month,
            SUM(u.records), COUNT(DISTINCT u.origin), MIN(u.first), MAX(u.last)
        FROM stats_rollup u
        JOIN (SELECT 'all' AS visibility UNION ALL SELECT 'public') AS v
            ON v.visibility = 'all' OR u.audience = 'public'
        WHERE u.kind = OLD.kind AND u.country = COALESCE(OLD.country, '')
            AND u.category = COALESCE(OLD.category, '')
            AND u.month = COALESCE(substr(OLD.occurred_on, 1, 7), '')
        GROUP BY v.visibility;
END;

-- ... or current again (nothing does that yet; kept so the rollup follows any such update).
CREATE TRIGGER stats_rollup_restore
AFTER UPDATE OF superseded_by, retracted_by, erased_ms ON records
WHEN NEW.kind IN ('incident', 'deployment')
    AND NOT (OLD.superseded_by IS NULL AND OLD.retracted_by IS NULL AND OLD.erased_ms IS NULL)
    AND NEW.superseded_by IS NULL AND NEW.retracted_by IS NULL AND NEW.erased_ms IS NULL
BEGIN
    INSERT INTO stats_rollup
        VALUES (NEW.kind, COALESCE(NEW.country, ''), COALESCE(NEW.category, ''),
            COALESCE(substr(NEW.occurred_on, 1, 7), ''), NEW.origin, NEW.audience,
            1, NEW.occurred_on, NEW.occurred_on)
        ON CONFLICT DO UPDATE SET records = records + excluded.records,
            first = MIN(first, excluded.first), last = MAX(last, excluded.last);

    DELETE FROM stats_cells WHERE kind = NEW.kind AND country = COALESCE(NEW.country, '')
        AND category = COALESCE(NEW.category, '')
        AND month = COALESCE(substr(NEW.occurred_on, 1, 7), '');
    INSERT INTO stats_cells
        SELECT u.kind, v.visibility, u.country, u.category, u.month,
            SUM(u.records), COUNT(DISTINCT u.origin), MIN(u.first), MAX(u.last)
        FROM stats_rollup u
        JOIN (SELECT 'all' AS visibility UNION ALL SELECT 'public') AS v
            ON v.visibility = 'all' OR u.audience = 'public'
        WHERE u.kind = NEW.kind AND u.country = COALESCE(NEW.country, '')
            AND u.category = COALESCE(NEW.category, '')
            AND u.month = COALESCE(substr(NEW.occurred_on, 1, 7), '')
        GROUP BY v.visibility;
END;
"""

ALL_AUDIENCES = frozenset(get_args(Audience))
ROLLUP_GROUPS = {
    "country": "NULLIF(u.country, '')",
    "category": "NULLIF(u.category, '')",
    "month": "NULLIF(u.month, '')",
    "year": "NULLIF(substr(u.month, 1, 4), '')",
    "origin": "u.origin",
}
# What groups and orders by each key: the stored columns, where '' stands for NULL.
ROLLUP_ORDER = {
    "country": "u.country",
    "category": "u.category",
    "month": "u.month",
    "year": "substr(u.month, 1, 4)",
    "origin": "u.origin",
}
CELL_GROUPS = frozenset({"country", "category", "month"})


def month_start(day: str | None) -> bool:
    """Whether a lower bound of ``occurred_on`` (inclusive) starts a month, or is none."""
    return day is None or (_iso(day) is not None and day.endswith("-01"))


def month_end(day: str | None) -> bool:
    """Whether an upper bound of ``occurred_on`` (inclusive) ends a month, or is none."""
    if day is None:
        return True
    parsed = _iso(day)
    return parsed is not None and (parsed + datetime.timedelta(days=1)).day == 1


def _iso(day: str) -> datetime.date | None:
    try:
        parsed = datetime.date.fromisoformat(day)
    except ValueError:
        return None
    return parsed if parsed.isoformat() == day else None


def answerable(query: QueryFilter, keys: Sequence[str]) -> bool:
    """Whether ``stats_rollup`` answers ``query`` grouped by ``keys`` exactly."""
    return (
        all(k in ROLLUP_GROUPS for k in keys)
        and not (query.regions or query.cities or query.technologies)
        and not (query.agencies or query.statuses or query.frt)
        and query.created_from_ms is None
        and query.created_to_ms is None
        and query.area_prefix is None
        and query.bbox is None
        and query.text is None
        and "" not in query.countries
        and "" not in query.categories
        and month_start(query.occurred_from)
        and month_end(query.occurred_to)
    )


def cells_visibility(query: QueryFilter, keys: Sequence[str]) -> str | None:
    """The ``stats_cells`` visibility that answers ``query`` grouped by ``keys``, if any
    (given :func:`answerable`): grouped by exactly its cell, not filtered by origin."""
    if set(keys) != CELL_GROUPS or len(keys) != len(CELL_GROUPS) or query.origins:
        return None
    audiences = set(query.audiences)
    if audiences == {"public"}:
        return "public"
    return "all" if audiences == ALL_AUDIENCES else None


def rollup_where(query: QueryFilter, *, cells: bool) -> tuple[str, list[Any]]:
    """The condition over the rollup (``stats_rollup u``, or ``stats_cells u`` when
    ``cells``, without its visibility) that :func:`answerable` ``query`` selects.

    Whole months are whole rows: a row is in a month range when its first and last are."""
    clauses: list[str] = ["u.kind = ?"]
    params: list[Any] = [query.kind]
    filters: list[tuple[str, Sequence[Any]]] = [
        ("u.country", query.countries),
        ("u.category", query.categories),
    ]
    if not cells:
        filters += [("u.audience", query.audiences or ("",)), ("u.origin", query.origins)]
    for column, values in filters:
        if values:
            marks, listed = expand_in(values)
            clauses.append(f"{column} IN {marks}")
            params.extend(listed)
    if query.occurred_from is not None:
        clauses.append("u.first >= ?")
        params.append(query.occurred_from)
    if query.occurred_to is not None:
        clauses.append("u.last <= ?")
        params.append(query.occurred_to)
    return " AND ".join(clauses), params
