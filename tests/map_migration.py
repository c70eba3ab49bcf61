"""Undoing migration 10 (the map's grid, storage.mapgrid) and those after it, for tests
that take a database back to an earlier version to check a later migration's backfill.
Migration 11 only drops unused indexes (``IF EXISTS``), so running it again is harmless
and it has nothing to undo."""

from storage.mapgrid import FILL, V10_LEVELS

# Migration 20 (the log of records not yet indexed, storage.pending), empty here.
UNDO_PENDING = """
DROP TABLE pending;
"""
# Migration 19 (the grid's levels, storage.mapgrid): migration 10's levels, the grid refilled.
UNDO_GRID_LEVELS = f"""
{UNDO_PENDING}
DELETE FROM map_grid;
DELETE FROM map_levels;
INSERT INTO map_levels VALUES {", ".join(f"({level})" for level in V10_LEVELS)};
{FILL};
"""
# Migration 17 (the map's rollup of incidents per area cell, storage.mapareas), after 18.
UNDO_MAP_AREAS = (
    UNDO_GRID_LEVELS
    + """
DROP TRIGGER map_areas_remove;
DROP TRIGGER map_areas_restore;
DROP TABLE map_areas;
"""
)
# Migration 15 (the site's counts of public records, storage.facets), after undoing 17
# (16 only recreates an index, so running it again is harmless).
UNDO_FACETS = (
    UNDO_MAP_AREAS
    + """
DROP TRIGGER stats_facets_remove;
DROP TRIGGER stats_facets_restore;
DROP TABLE stats_facets;
"""
)
# Migration 14 (the campaign pages' indexes, storage.campaignindexes), after undoing 15.
UNDO_CAMPAIGN_PAGES = (
    UNDO_FACETS
    + """
DROP INDEX records_policy_place;
DROP INDEX records_request_state;
DROP INDEX records_agency_name;
"""
)
# Migration 13 (the moderators' desk, storage.deskschema), after undoing 14.
UNDO_DESK = (
    UNDO_CAMPAIGN_PAGES
    + """
DROP TABLE submission_items;
DROP TABLE submission_claims;
DROP INDEX audit_log_submission;
DROP INDEX submissions_queue;
ALTER TABLE submissions DROP COLUMN duplicate_of;
"""
)
# Migration 12 (the campaign kinds' columns, storage.campaign).
UNDO_CAMPAIGN = """
DROP INDEX records_agency_ref;
DROP INDEX records_campaign_due;
ALTER TABLE records DROP COLUMN agency_ref;
ALTER TABLE records DROP COLUMN due_on;
"""
UNDO_MAP_GRID = (
    UNDO_DESK
    + UNDO_CAMPAIGN
    + """
DROP TRIGGER map_grid_remove;
DROP TRIGGER map_grid_restore;
DROP TABLE map_grid;
DROP TABLE map_levels;
DROP INDEX records_map_points;
DROP INDEX records_map_areas;
"""
)
