"""The indexes the campaign pages add (migration 14): policies by place, requests by
state, agencies by name.

An agency's page shows the policies covering its jurisdiction (its country, its
region, its city) and ``/policies`` lists policies by place. Both read the
current public policies of a country; without this index SQLite walks every
current record of that country (cameras among them) and reads each policy's row
to test its region and city. With it, the country's policies are an index range
whose region and city are tested in the index, and ``/policies`` walks it in
page order and counts its map's groups (country, instrument, status) from the
index alone: it holds every column those reads test (the kind and the three
"current" columns are constant in it, but SQLite reads a column only from where
it is stored, so they are there to make the index cover the reads). It is
partial: only current policies have an entry, so the ingest of cameras and
incidents pays nothing for it. Queries that use it name the kind as a literal
(``r.kind = 'policy'``), as SQLite requires to use a partial index, and name the
index (``INDEXED BY``): without statistics SQLite prefers the wider
``records_current_country``, whose kind, country and audience are all equalities.

``/agencies`` lists agencies by name: unfiltered (or searched by name) it walks
``records_agency_name`` in page order instead of sorting every agency (50,000:
about 300 ms, against a few milliseconds). ``/requests`` orders requests overdue
first, which no index order gives: ``records_request_state`` holds every column
the tracker's order and counts read, so sorting 50,000 requests reads the index
alone (about 70 ms under load, against 220 ms through the rows).
"""

from typing import Final

POLICY_PLACE: Final = "records_policy_place"
AGENCY_NAME: Final = "records_agency_name"
REQUEST_STATE: Final = "records_request_state"
# Made by migration 12 (storage.campaign): current records by the agency they point at.
# Without statistics SQLite prefers walking every deployment newest first to it.
AGENCY_REF: Final = "records_agency_ref"
# Made by storage.listindexes: current records of a kind, country and audience, newest
# first. An agency's page reads its country's country-wide policies through it: a walk
# that stops at the tenth, where records_policy_place would sort them all (50,000: 130 ms).
COUNTRY_NEWEST: Final = "records_current_country"
MIGRATION: Final = """
    CREATE INDEX records_policy_place ON records (
        country, region, city, audience, category, status,
        kind, superseded_by, retracted_by, erased_ms)
        WHERE kind = 'policy' AND superseded_by IS NULL AND retracted_by IS NULL
        AND erased_ms IS NULL;
    CREATE INDEX records_request_state ON records (
        country, agency_ref, status, due_on, occurred_on, agency, audience,
        kind, superseded_by, retracted_by, erased_ms)
        WHERE kind = 'records_request' AND superseded_by IS NULL AND retracted_by IS NULL
        AND erased_ms IS NULL;
    CREATE INDEX records_agency_name ON records (agency COLLATE NOCASE, rid)
        WHERE kind = 'agency' AND superseded_by IS NULL AND retracted_by IS NULL
        AND erased_ms IS NULL;
    """

# Migration 16: records_agency_ref also holds what an agency's page reads of each record
# pointing at it, besides the order of its lists: the status and due date its requests
# are sorted and counted by (overdue first), the dates that open and close its actions,
# its incidents' areas for its small map. Its page then reads its counts, its requests
# in order and its map's incident groups from the index alone, where each entry cost a
# row read: the biggest agency of bench/agencypage.py (26,000 cameras, 4,400 requests,
# 4,300 incidents, scale 1) took about 230 ms for that, against the target of 50 ms.
AGENCY_COLUMNS_MIGRATION: Final = """
    DROP INDEX records_agency_ref;
    CREATE INDEX records_agency_ref ON records (
        agency_ref, kind, audience, created_ms, rid, status, due_on, occurred_on, area)
        WHERE agency_ref IS NOT NULL AND superseded_by IS NULL AND retracted_by IS NULL
        AND erased_ms IS NULL;
    """
