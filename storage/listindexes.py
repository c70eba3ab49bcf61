"""Migration 9: the indexes of the site's lists; migration 11: the records indexes no read uses.

The site's lists (:mod:`node.web.lists`) filter current records by country, city,
status or FRT capability and show them newest first. One index per filter, in
created order, lets a page walk only its matches: a rare city among 1,000,000
deployments took 1.3 s walking ``records_current_created``, and takes under a
millisecond here. The audience comes before ``created_ms`` and ``rid`` right after
it: the site reads one audience, so the index gives a page's order
``(created_ms, rid)``, which it would not if other columns came between them.

The other three filters' columns follow, so counting the matches of any mix of them
reads the index alone (Berlin, removed, suspected among 1,000,000 deployments: 680 ms
through the table, 53 ms from the index). The four indexes cost about a quarter of
the database's size. Their WHERE repeats the conditions of :mod:`storage.queries`, so
SQLite can use them; :func:`storage.filters.where_clause` leaves only the most
selective filter's index usable when several are given.
"""

from typing import Final

LIST_INDEXES: Final = """
    CREATE INDEX records_current_country ON records (kind, country, audience, created_ms, rid,
        city, status, frt)
        WHERE superseded_by IS NULL AND retracted_by IS NULL AND erased_ms IS NULL;
    CREATE INDEX records_current_city ON records (kind, city, audience, created_ms, rid,
        country, status, frt)
        WHERE superseded_by IS NULL AND retracted_by IS NULL AND erased_ms IS NULL;
    CREATE INDEX records_current_status ON records (kind, status, audience, created_ms, rid,
        country, city, frt)
        WHERE superseded_by IS NULL AND retracted_by IS NULL AND erased_ms IS NULL;
    CREATE INDEX records_current_frt ON records (kind, frt, audience, created_ms, rid,
        country, city, status)
        WHERE superseded_by IS NULL AND retracted_by IS NULL AND erased_ms IS NULL;
    """

# Migration 11: indexes of migrations 1 and 8 that no read path's plan uses any longer
# (EXPLAIN QUERY PLAN of every filter of storage.filters as a page, a capped count and
# a stats scan, over 1,000,000 deployments and 100,000 incidents; bench/README.md,
# "Which indexes the records table keeps"). Each insert paid for them: records_occurred
# is keyed by a date in random order, so a batch of 500 dirtied about one page of it
# per record. The others were worse than none for the stats scan, which chose
# records_audience and then read every row through it (1.1-1.9 s, against 0.2-0.7 s
# scanning). Filters on these columns use migration 3's and 9's current-record indexes.
UNUSED_INDEXES: Final = """
    DROP INDEX IF EXISTS records_audience;
    DROP INDEX IF EXISTS records_created;
    DROP INDEX IF EXISTS records_occurred;
    DROP INDEX IF EXISTS records_frt;
    """

# The records indexes that reads no longer need, which every insert paid for
# (bench/README.md, "Fewer indexes on records"). records_area and records_point are
# keyed by a place in random order, so a batch dirtied about one of their pages per
# record; each duplicates a partial index of the map's over current records (migration
# 10): records_map_areas for incidents, records_map_points for deployments, which reads
# of an area or a box now name (storage.filters.scan_source, storage.mapdata). The
# schema's first indexes by country (and category) and by city served scans that hid
# the kind from SQLite; a country or a city now leaves the kind visible, so migration
# 9's records_current_country and records_current_city serve them, faster
# (storage.filters.where_clause). records_category stays: a category alone has no
# other index (a scan of 100,000 incidents: 146 ms, not 25).
FEWER_INDEXES: Final = """
    DROP INDEX IF EXISTS records_area;
    DROP INDEX IF EXISTS records_point;
    DROP INDEX IF EXISTS records_country;
    DROP INDEX IF EXISTS records_city;
    """
