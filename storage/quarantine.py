"""The quarantine: verified records whose origin is not (yet) a member.

Records can arrive before the membership record that admits their origin
(docs/protocol.md section 7.1). They wait here, never served, in no feed and no count,
until a steward's decision about their origin arrives; then they are released
and judged again (``storage.records``). The quarantine is bounded in bytes:
past the bound the records held longest are dropped first, and only then.
"""

import sqlite3
from collections.abc import Collection, Sequence

import aiosqlite
import structlog

from protocol.envelope import decode_envelope
from protocol.records import SignedRecord, VerifiedRecord, finish_record
from storage.sql import expand_in, statement

DEFAULT_MAX_BYTES = 64 << 20

log = structlog.get_logger("banscan.quarantine")


def _size(record: VerifiedRecord) -> int:
    return len(record.envelope_bytes) + len(record.signature) + len(record.body or b"")


def held_ids(conn: sqlite3.Connection, ids: Collection[bytes]) -> set[bytes]:
    """Which of ``ids`` the quarantine already holds."""
    found: set[bytes] = set()
    listed = sorted(ids)
    for start in range(0, len(listed), 500):
        part = listed[start : start + 500]
        marks, params = expand_in(part)
        sql = statement("SELECT id FROM quarantine WHERE id IN {marks}", marks=marks)
        rows = conn.execute(sql, params).fetchall()
        found.update(bytes(row[0]) for row in rows)
    return found


def hold(conn: sqlite3.Connection, records: Sequence[VerifiedRecord], now: int) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO quarantine (id, origin, audience, seq, envelope, signature, body,"
        " size, received_ms) VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (
                r.id,
                r.envelope.origin,
                r.envelope.audience,
                r.envelope.seq,
                r.envelope_bytes,
                r.signature,
                r.body,
                _size(r),
                now,
            )
            for r in records
        ],
    )


def release(conn: sqlite3.Connection, origins: Collection[bytes]) -> list[VerifiedRecord]:
    """Take every held record of ``origins`` out of the quarantine, in feed order.

    They were verified when they arrived, so only their bodies are decoded again."""
    released: list[VerifiedRecord] = []
    for origin in sorted(origins):
        rows = conn.execute(
            "SELECT envelope, signature, body FROM quarantine WHERE origin = ? "
            "ORDER BY audience, seq",
            (origin,),
        ).fetchall()
        conn.execute("DELETE FROM quarantine WHERE origin = ?", (origin,))
        for envelope, signature, body in rows:
            record = SignedRecord(envelope, signature, body)
            released.append(finish_record(record, decode_envelope(envelope)))
    return released


def held_origins(conn: sqlite3.Connection) -> set[bytes]:
    rows = conn.execute("SELECT DISTINCT origin FROM quarantine").fetchall()
    return {bytes(row[0]) for row in rows}


def enforce_bound(conn: sqlite3.Connection, max_bytes: int) -> int:
    """Drop the records held longest until the quarantine fits ``max_bytes``; how many."""
    excess = int(conn.execute("SELECT COALESCE(SUM(size), 0) FROM quarantine").fetchone()[0])
    excess -= max_bytes
    if excess <= 0:
        return 0
    # Within one arrival, a feed's later seqs go first, so what stays is contiguous.
    victims: list[bytes] = []
    cursor = conn.execute("SELECT id, size FROM quarantine ORDER BY received_ms, seq DESC, id")
    for record_id, size in cursor:
        if excess <= 0:
            break
        victims.append(record_id)
        excess -= size
    cursor.close()
    conn.executemany("DELETE FROM quarantine WHERE id = ?", [(v,) for v in victims])
    log.warning("quarantine full: dropped the oldest records", dropped=len(victims))
    return len(victims)


async def quarantine_totals(conn: aiosqlite.Connection) -> tuple[int, int]:
    """(records, bytes) held."""
    rows = await conn.execute_fetchall("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM quarantine")
    count, size = next(iter(rows))
    return int(count), int(size)
