"""The log of verified records not yet indexed (``pending``): written when a batch is
acknowledged, emptied by the indexer.

A batch a peer sends, or a client imports, is acknowledged once its records are
verified, classified and durable here (``RecordStore.ingest(defer=True)``): one
row per record that takes its feed's next slot, holding only the bytes (envelope,
signature, body), the slot, the id, a tombstone's ``withdrawn_by`` and the arrival
time. ``lsn`` is the log's position; ``AUTOINCREMENT`` keeps it ascending for good,
even once every row has been indexed and deleted. The unique slot index is what
acknowledging needs (a duplicate, a fork) and what sync's range reads use; there
is no index on ``id``: an id is the hash of an envelope, which names its slot, so
the same id always meets itself at its slot, and a look-up by id scans the log,
which is short unless a bulk pull is under way (bench/README.md, "A two-stage
ingest, measured").

The indexer (:mod:`storage.indexer`) takes rows in ``lsn`` order, writes their
index (:func:`storage.indexwrite.index_stored`) and deletes them in one
transaction, so every read of the index is exact as of one position of the log.
A row whose body no longer passes its schema (a schema narrowed by an upgrade) is
set aside: it keeps its row with ``set_aside`` saying why, is still served to
peers, and never blocks the rows after it.
"""

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite
import structlog

from protocol.envelope import decode_envelope
from protocol.errors import ProtocolError
from protocol.records import SignedRecord, finish_record
from storage.classify import Stored
from storage.indexwrite import index_stored

_log = structlog.get_logger("banscan.indexer")

MIGRATION = """
CREATE TABLE pending (
    lsn          INTEGER PRIMARY KEY AUTOINCREMENT,  -- the log's position, ascending
    id           BLOB NOT NULL,
    origin       BLOB NOT NULL,
    audience     TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    envelope     BLOB NOT NULL,
    signature    BLOB NOT NULL,
    body         BLOB,                 -- NULL for a tombstone
    withdrawn_by BLOB,                 -- the membership record that refused a tombstone
    received_ms  INTEGER NOT NULL,
    set_aside    TEXT                  -- why it could not be indexed; NULL while it waits
);
CREATE UNIQUE INDEX pending_slot ON pending (origin, audience, seq);
"""
_INSERT = (
    "INSERT INTO pending (id, origin, audience, seq, envelope, signature, body, withdrawn_by,"
    " received_ms) VALUES (?,?,?,?,?,?,?,?,?)"
)
_NEXT = (
    "SELECT lsn, envelope, signature, body, withdrawn_by, received_ms FROM pending"
    " WHERE lsn > ? AND set_aside IS NULL ORDER BY lsn LIMIT ?"
)
# Rows rebuilt and indexed at a time within a step: a step's transaction still writes
# each index page once, while only this many decoded records are held at once.
PART = 500
# Rows taken by the inline path per step: bounds its memory, not its transaction.
FLUSH_CHUNK = 5_000


def log_stored(conn: sqlite3.Connection, stored: Sequence[Stored], now: int) -> int:
    """Append ``stored`` to the log, in slot order; the log's last position after."""
    rows = []
    for slot in stored:
        record, env = slot.record, slot.record.envelope
        body = None if slot.withdrawn_by is not None else record.body
        rows.append((record.id, env.origin, env.audience, env.seq, record.envelope_bytes,
                     record.signature, body, slot.withdrawn_by, now))  # fmt: skip
    conn.executemany(_INSERT, rows)
    return last_lsn(conn)


def last_lsn(conn: sqlite3.Connection) -> int:
    """The position of the last record ever logged (0 for none)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'pending'").fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True, slots=True)
class Step:
    """What one step of the indexer did: rows indexed and set aside, and the last
    position it passed (every row at or below it is indexed or set aside)."""

    indexed: int
    set_aside: int
    through: int


def index_next(
    conn: sqlite3.Connection, limit: int, stewards: frozenset[bytes], now: int
) -> Step | None:
    """Index the next ``limit`` rows of the log and delete them; None when none wait."""
    indexed = aside = 0
    through = 0
    while indexed + aside < limit:
        rows = conn.execute(_NEXT, (through, min(PART, limit - indexed - aside))).fetchall()
        if not rows:
            break
        done, refused = _index_rows(conn, rows, stewards, now)
        indexed, aside, through = indexed + done, aside + refused, int(rows[-1][0])
    if not through:
        return None
    conn.execute("DELETE FROM pending WHERE lsn <= ? AND set_aside IS NULL", (through,))
    return Step(indexed, aside, through)


def _index_rows(
    conn: sqlite3.Connection, rows: list[Any], stewards: frozenset[bytes], now: int
) -> tuple[int, int]:
    """Rebuild ``rows``' records from their bytes and index them; (indexed, set aside)."""
    stored: list[Stored] = []
    received: list[int] = []
    aside: list[tuple[str, int]] = []
    for lsn, envelope, signature, body, withdrawn_by, received_ms in rows:
        try:
            record = finish_record(
                SignedRecord(envelope, signature, body), decode_envelope(envelope)
            )
        except (ProtocolError, ValueError) as exc:
            aside.append((_reason(exc), lsn))
            continue
        stored.append(Stored(record, withdrawn_by))
        received.append(received_ms)
    index_stored(conn, stored, now, stewards, received)
    if aside:
        conn.executemany("UPDATE pending SET set_aside = ? WHERE lsn = ?", aside)
        _log.error("records set aside: they no longer pass their schema", count=len(aside),
                   first_lsn=aside[0][1], reason=aside[0][0])  # fmt: skip
    return len(stored), len(aside)


def _reason(exc: Exception) -> str:
    """Why a body was refused, naming fields but never their values (pydantic's message
    quotes the input; this goes to the log and the row)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        fields = sorted({".".join(str(p) for p in e.get("loc", ())) for e in errors()})
        return f"{type(exc).__name__}: fields {', '.join(fields)}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def set_aside(conn: sqlite3.Connection, lsn: int, reason: str) -> None:
    """Set one row aside whose indexing failed for a reason of its own."""
    conn.execute("UPDATE pending SET set_aside = ? WHERE lsn = ?", (reason[:500], lsn))
    _log.error("record set aside: indexing it failed", lsn=lsn, reason=reason)


def next_lsn(conn: sqlite3.Connection) -> int | None:
    """The position of the next row waiting to be indexed."""
    row = conn.execute("SELECT MIN(lsn) FROM pending WHERE set_aside IS NULL").fetchone()
    return None if row[0] is None else int(row[0])


def flush(conn: sqlite3.Connection, stewards: frozenset[bytes], now: int) -> int:
    """Index everything the log holds, in this transaction; how many rows were taken."""
    done = 0
    while (step := index_next(conn, FLUSH_CHUNK, stewards, now)) is not None:
        done += step.indexed + step.set_aside
    return done


@dataclass(frozen=True, slots=True)
class LogRow:
    lsn: int
    envelope: bytes
    signature: bytes
    body: bytes | None


async def find(reader: aiosqlite.Connection, record_id: bytes) -> LogRow | None:
    """The record ``record_id`` if it waits in the log (a scan of the log: see above)."""
    rows = await reader.execute_fetchall(
        "SELECT lsn, envelope, signature, body FROM pending WHERE id = ?", (record_id,)
    )
    for lsn, envelope, signature, body in rows:
        return LogRow(int(lsn), bytes(envelope), bytes(signature), body)
    return None
