"""Undoing migration 10 (the map's grid, storage.mapgrid) and those after it, for tests
that take a database back to an earlier version to check a later migration's backfill."""

# Migration 12 (current policies by place, storage.campaignindexes), then 11 (the
# campaign kinds' columns, storage.campaign).
UNDO_CAMPAIGN = """
DROP INDEX records_policy_place;
DROP INDEX records_agency_name;
DROP INDEX records_request_state;
DROP INDEX records_agency_ref;
DROP INDEX records_campaign_due;
ALTER TABLE records DROP COLUMN agency_ref;
ALTER TABLE records DROP COLUMN due_on;
"""
UNDO_MAP_GRID = (
    UNDO_CAMPAIGN
    + """
DROP TRIGGER map_grid_remove;
DROP TRIGGER map_grid_restore;
DROP TABLE map_grid;
DROP TABLE map_levels;
DROP INDEX records_map_points;
DROP INDEX records_map_areas;
"""
)
