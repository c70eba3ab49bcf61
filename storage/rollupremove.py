"""Taking a record out of the stats rollup when it stops being current, at a lower cost.

Migration 5's trigger ``stats_rollup_remove`` recomputed the record's
``stats_rollup`` row's first and last ``occurred_on`` from the records every
time (two searches of ``records_current_rollup``) and rebuilt its cell from the
rollup, finding the cells by a condition SQLite could only serve by reading
every cell of the kind: 578 µs per record taken out on the bench's node of
1,100,000 records, 90 µs on one of 10,000 (bench/README.md). Migration 15
replaces it with :data:`REMOVE_TRIGGER`, which gives the same tables:

- a row's first (last) is searched for again only when the record leaving was
  its first (last) day and others remain; a row left empty is deleted anyway;
- the cell is updated in place, found by its whole primary key (migration 5's
  trigger named no visibility, so SQLite read every cell of the kind twice per
  record): one record fewer, one chapter fewer when the
  rollup no longer holds that origin in the cell (for ``public``, no public
  row of it), and its first and last read from the cell's remaining rollup
  rows only when the record leaving was at an edge.

A test compares the tables with ones rebuilt from the records after versions
and retractions (``tests/test_stats_rollup.py``).
"""

from typing import Final

from storage.sql import statement

_ROW = (
    "kind = OLD.kind AND country = COALESCE(OLD.country, '') "
    "AND category = COALESCE(OLD.category, '') "
    "AND month = COALESCE(substr(OLD.occurred_on, 1, 7), '')"
)
# Its cells: naming both visibilities lets SQLite seek the primary key (kind, visibility,
# country, ...); without them it read every cell of the kind (migration 5's trigger did).
_CELL = _ROW.replace(
    "kind = OLD.kind AND", "kind = OLD.kind AND visibility IN ('all', 'public') AND"
)
# The current siblings of the record leaving, in its rollup row (records_current_rollup).
_SIBLINGS = """
    FROM records s WHERE s.kind = OLD.kind AND s.origin = OLD.origin
        AND s.audience = OLD.audience AND s.country IS OLD.country
        AND s.category IS OLD.category
        AND s.occurred_on BETWEEN substr(OLD.occurred_on, 1, 7) || '-01'
            AND substr(OLD.occurred_on, 1, 7) || '-31'
        AND s.superseded_by IS NULL AND s.retracted_by IS NULL AND s.erased_ms IS NULL
"""
# The cell's rollup rows a stats_cells row of this visibility sums.
_CELL_ROWS = (
    "FROM stats_rollup u WHERE u.kind = OLD.kind AND u.country = COALESCE(OLD.country, '') "
    "AND u.category = COALESCE(OLD.category, '') "
    "AND u.month = COALESCE(substr(OLD.occurred_on, 1, 7), '') "
    "AND (stats_cells.visibility = 'all' OR u.audience = 'public')"
)
# In an UPDATE every column on the right is the row's value before it.
_KEPT_FIRST = "records = 1 OR OLD.occurred_on IS NULL OR OLD.occurred_on > first"
_KEPT_LAST = "records = 1 OR OLD.occurred_on IS NULL OR OLD.occurred_on < last"

REMOVE_TRIGGER: Final = statement(
    """
DROP TRIGGER stats_rollup_remove;
-- A record stops being current (a later version, a retraction): take it out of its
-- rollup row and its cells (storage.rollupremove).
CREATE TRIGGER stats_rollup_remove
AFTER UPDATE OF superseded_by, retracted_by, erased_ms ON records
WHEN OLD.kind IN ('incident', 'deployment')
    AND OLD.superseded_by IS NULL AND OLD.retracted_by IS NULL AND OLD.erased_ms IS NULL
    AND NOT (NEW.superseded_by IS NULL AND NEW.retracted_by IS NULL AND NEW.erased_ms IS NULL)
BEGIN
    UPDATE stats_rollup SET records = records - 1,
        first = CASE WHEN {kept_first} THEN first ELSE (SELECT MIN(s.occurred_on) {siblings}) END,
        last = CASE WHEN {kept_last} THEN last ELSE (SELECT MAX(s.occurred_on) {siblings}) END
        WHERE {row} AND origin = OLD.origin AND audience = OLD.audience;
    DELETE FROM stats_rollup
        WHERE {row} AND origin = OLD.origin AND audience = OLD.audience AND records = 0;

    UPDATE stats_cells SET records = records - 1,
        chapters = chapters - NOT EXISTS (SELECT 1 {cell_rows} AND u.origin = OLD.origin),
        first = CASE WHEN {kept_first} THEN first ELSE (SELECT MIN(u.first) {cell_rows}) END,
        last = CASE WHEN {kept_last} THEN last ELSE (SELECT MAX(u.last) {cell_rows}) END
        WHERE {cell} AND (visibility = 'all' OR OLD.audience = 'public');
    DELETE FROM stats_cells WHERE {cell} AND records = 0;
END;
""",
    row=_ROW,
    cell=_CELL,
    siblings=_SIBLINGS,
    cell_rows=_CELL_ROWS,
    kept_first=_KEPT_FIRST,
    kept_last=_KEPT_LAST,
)
