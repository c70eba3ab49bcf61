"""The index of stored records: what a record's slot adds beyond the log.

A record that takes its feed's slot is indexed by :func:`index_stored`: its
``records`` row (query columns and the table's indexes), its body and full-text
summary, the stats rollup and facets, the map's grid and area cells, and the
versions it supersedes or retracts; a tombstone (a record refused by a steward's
decision) withdraws itself. Feed heads, fork evidence and the quarantine are not
index work: they are decided and written when a record is acknowledged
(:mod:`storage.records`), on either path. The same function serves the inline
path (a record acknowledged and indexed in one transaction) and the background
indexer (:mod:`storage.indexer`), so both write byte-equal tables.
"""

import sqlite3
from collections.abc import Sequence
from typing import Any

from protocol.records import VerifiedRecord
from storage import mapareas, mapgrid
from storage.classify import Feed, Slot, Stored, feed_of
from storage.columns import QUERY_COLUMNS, query_columns, summary_text
from storage.rollupadd import add_batch as add_to_rollup
from storage.sql import expand_in, statement
from storage.versions import apply_versions, withdraw

# Column names come from a constant; every value is a bound parameter.
COLUMNS = (
    "rid",
    "id",
    "origin",
    "audience",
    "seq",
    "created_ms",
    "kind",
    "envelope",
    "signature",
    "received_ms",
    *QUERY_COLUMNS,
)
_INSERT_RECORD = statement(
    "INSERT INTO records ({columns}) VALUES {marks}",
    columns=", ".join(COLUMNS),
    marks=expand_in(COLUMNS)[0],
)


def index_stored(
    conn: sqlite3.Connection,
    stored: Sequence[Stored],
    now: int,
    stewards: frozenset[bytes],
    received: Sequence[int] | None = None,
) -> None:
    """Index ``stored`` in slot (log) order. ``received`` is each record's arrival time
    (its ``received_ms``): the log's, when the indexer follows it; ``now`` otherwise."""
    first_rid = int(conn.execute("SELECT COALESCE(MAX(rid), 0) FROM records").fetchone()[0]) + 1
    new_rows, bodies, summaries, tombstones = [], [], [], []
    for n, slot in enumerate(stored):
        rid, record = first_rid + n, slot.record
        arrived = now if received is None else received[n]
        new_rows.append(record_row(rid, record, arrived, tombstone=slot.withdrawn_by is not None))
        if slot.withdrawn_by is not None:
            tombstones.append((slot.withdrawn_by, rid))
            continue
        if record.body is not None:
            bodies.append((rid, record.body))
        if (text := summary_text(record.content)) is not None:
            summaries.append((rid, text))
    if new_rows:
        conn.executemany(_INSERT_RECORD, new_rows)
        conn.executemany("INSERT INTO bodies (rid, body) VALUES (?, ?)", bodies)
        conn.executemany("INSERT INTO summaries (rowid, summary) VALUES (?, ?)", summaries)
        last_rid = first_rid + len(new_rows) - 1
        add_to_rollup(conn, new_rows, COLUMNS)
        mapgrid.add_batch(conn, first_rid, last_rid)
        mapareas.add_batch(conn, first_rid, last_rid)
        apply_versions(conn, first_rid, last_rid, stewards, now)
    withdraw(conn, tombstones, now)


def record_row(
    rid: int, record: VerifiedRecord, received_ms: int, *, tombstone: bool = False
) -> tuple[Any, ...]:
    """The ``records`` row of ``record``; a tombstone's query columns stay empty."""
    env = record.envelope
    return (
        rid,
        record.id,
        env.origin,
        env.audience,
        env.seq,
        env.created_ms,
        env.kind,
        record.envelope_bytes,
        record.signature,
        received_ms,
        *query_columns(None if tombstone else record.content),
    )


def max_seqs(conn: sqlite3.Connection, feeds: set[Feed]) -> dict[Feed, int]:
    """The stored max_seq of each feed in ``feeds`` that exists, in one query per 500 origins."""
    origins = sorted({origin for origin, _ in feeds})
    held: dict[Feed, int] = {}
    for start in range(0, len(origins), 500):
        part = origins[start : start + 500]
        marks, params = expand_in(part)
        sql = statement(
            "SELECT origin, audience, max_seq FROM feeds WHERE origin IN {marks}", marks=marks
        )
        rows = conn.execute(sql, params).fetchall()
        held.update(((origin, audience), int(seq)) for origin, audience, seq in rows)
    return held


def slot_ids(
    conn: sqlite3.Connection,
    records: Sequence[VerifiedRecord],
    heads: dict[Feed, int],
    *,
    logged: bool = False,
) -> dict[Slot, bytes]:
    """The ids stored at the slots of ``records`` at or below their feed's head: in the
    index, and with ``logged`` in the log of records not yet indexed too."""
    wanted = sorted(
        {
            (r.envelope.origin, r.envelope.audience, r.envelope.seq)
            for r in records
            if r.envelope.seq <= heads.get(feed_of(r), 0)
        }
    )
    tables = ("records", "pending") if logged else ("records",)
    found: dict[Slot, bytes] = {}
    for slot in wanted:
        for table in tables:
            row = conn.execute(
                statement(
                    "SELECT id FROM {table} WHERE origin = ? AND audience = ? AND seq = ?",
                    table=table,
                ),
                slot,
            ).fetchone()
            if row is not None:
                found[slot] = bytes(row[0])
                break
    return found


def fork_row(record: VerifiedRecord, first_id: bytes, now: int) -> tuple[Any, ...]:
    env = record.envelope
    return (
        record.id,
        env.origin,
        env.audience,
        env.seq,
        record.envelope_bytes,
        record.signature,
        first_id,
        now,
    )


def retracted(conn: sqlite3.Connection, ids: Sequence[bytes]) -> bool:
    """Whether a stored retraction names any of ``ids`` (the ``records_retracts`` index)."""
    for start in range(0, len(ids), 500):
        marks, params = expand_in(ids[start : start + 500])
        sql = statement("SELECT 1 FROM records WHERE retracts IN {marks} LIMIT 1", marks=marks)
        if conn.execute(sql, params).fetchone() is not None:
            return True
    return False
