"""Undoing migration 10 (the map's grid, storage.mapgrid), for tests that take a database
back to an earlier version to check a later migration's backfill."""

UNDO_MAP_GRID = """
DROP TRIGGER map_grid_remove;
DROP TRIGGER map_grid_restore;
DROP TABLE map_grid;
DROP TABLE map_levels;
DROP INDEX records_map_points;
DROP INDEX records_map_areas;
"""
