"""The migration of the campaign kinds: two query columns, two partial indexes, a backfill.

``agency_ref`` is the id of the ``agency`` record a record points at, so an
agency's page finds its deployments, incidents, policies, requests and actions
through one index; ``due_on`` is the day a request's answer is due or an action
closes, so the overdue requests and the open actions are an index range
(storage.columns says which body field fills which column).

Both indexes are partial: a camera or an incident without an agency record id
adds no entry to either, so ingest of those pays nothing for them. They hold
current records only, the conditions of every read (storage.queries), so an
agency's page counts its records from the index without reading the table: the
page of an agency with 1,800 deployments took 34 ms with an index on
``agency_ref`` alone and 4.5 ms with this one (bench/agencypage.py, scale 0.05).

A node of an earlier version stored records of these kinds without reading
them (their query columns empty); :func:`backfill` fills their columns and
their search text from the stored bodies, and ``agency_ref`` of the incidents
and deployments that name an agency record.
"""

from typing import Final

import aiosqlite

from protocol.campaign import CAMPAIGN_MODELS
from protocol.errors import ProtocolError
from protocol.kinds import decode_body
from storage.columns import QUERY_COLUMNS, query_columns, summary_text
from storage.sql import expand_in, statement

MIGRATION: Final = """
    ALTER TABLE records ADD COLUMN agency_ref BLOB;
    ALTER TABLE records ADD COLUMN due_on TEXT;
    CREATE INDEX records_agency_ref ON records (agency_ref, kind, audience, created_ms, rid)
        WHERE agency_ref IS NOT NULL AND superseded_by IS NULL AND retracted_by IS NULL
            AND erased_ms IS NULL;
    CREATE INDEX records_campaign_due ON records (kind, due_on, audience)
        WHERE kind IN ('records_request', 'action') AND due_on IS NOT NULL
            AND superseded_by IS NULL AND retracted_by IS NULL AND erased_ms IS NULL;
    """
CAMPAIGN_KINDS: Final = tuple(CAMPAIGN_MODELS)
# msgpack's encoding of the key "record" (a fixstr of 6 bytes): only bodies holding it
# can name an agency record, so the other incidents and deployments are not decoded.
_RECORD_KEY: Final = b"\xa6record"


async def backfill(conn: aiosqlite.Connection) -> None:
    """Fill the query columns of stored campaign records and ``agency_ref`` of the
    incidents and deployments that point at an agency record."""
    marks, kinds = expand_in(CAMPAIGN_KINDS)
    rows = await conn.execute_fetchall(
        statement(
            "SELECT r.rid, r.kind, b.body FROM records r JOIN bodies b ON b.rid = r.rid"
            " WHERE r.kind IN {marks}"
            " OR (r.kind IN ('incident', 'deployment') AND instr(b.body, ?) > 0)",
            marks=marks,
        ),
        [*kinds, _RECORD_KEY],
    )
    updates, summaries = [], []
    for rid, kind, body in rows:
        try:
            content = decode_body(kind, body)
        except ProtocolError:
            continue  # relayed unread by an earlier version, and not valid here: no columns
        updates.append((*query_columns(content), rid))
        if kind in CAMPAIGN_MODELS and (text := summary_text(content)) is not None:
            summaries.append((rid, text))
    assignments = ", ".join(f"{column} = ?" for column in QUERY_COLUMNS)
    sql = statement("UPDATE records SET {assignments} WHERE rid = ?", assignments=assignments)
    await conn.executemany(sql, updates)
    await conn.executemany("INSERT INTO summaries (rowid, summary) VALUES (?, ?)", summaries)
