"""The index the campaign pages add: policies by place (migration 12).

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
"""

from typing import Final

POLICY_PLACE: Final = "records_policy_place"
MIGRATION: Final = """
    CREATE INDEX records_policy_place ON records (
        country, region, city, audience, category, status,
        kind, superseded_by, retracted_by, erased_ms)
        WHERE kind = 'policy' AND superseded_by IS NULL AND retracted_by IS NULL
        AND erased_ms IS NULL;
    """
