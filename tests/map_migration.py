"""Undoing migrations 10 (the map's grid, storage.mapgrid) and 11 (the moderators' desk,
storage.deskschema), for tests that take a database back to an earlier version to check
a later migration's backfill."""

UNDO_DESK = """
DROP TABLE submission_items;
DROP TABLE submission_claims;
DROP INDEX audit_log_submission;
DROP INDEX submissions_queue;
ALTER TABLE submissions DROP COLUMN duplicate_of;
"""
UNDO_MAP_GRID = (
    UNDO_DESK
    + """
DROP TRIGGER map_grid_remove;
DROP TRIGGER map_grid_restore;
DROP TABLE map_grid;
DROP TABLE map_levels;
DROP INDEX records_map_points;
DROP INDEX records_map_areas;
"""
)
