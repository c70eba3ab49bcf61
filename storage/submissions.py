"""Submissions from the public, the moderators' public keys, and the moderation audit log.

What a seized database holds of a submission:

- ``triage``: the coarse fields moderators sort by, all of which a published
  record may carry anyway (kind, country, city, day, category, technology,
  agency, the consent answers);
- ``sealed``: the private part, a box only moderators' private keys open
  (:mod:`protocol.sealing`); set to NULL when the retention period ends;
- ``received_on``: the UTC day it arrived. No finer time is kept, so arrival
  cannot be matched against a network log;
- a SHA-256 of the reporter's receipt code, never the code.

No IP address, user agent or cookie is ever stored. The audit log is
append-only (triggers refuse UPDATE and DELETE) and hash-chained, so a
removed or edited entry shows; it names who did what, when, to which
submission, never any private content.
"""

import hashlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgpack

from storage.database import Database
from storage.sql import expand_in, statement

STATUSES: Final = ("pending", "needs_info", "published", "rejected", "duplicate", "retracted")
DECIDED: Final = ("published", "rejected", "duplicate", "retracted")
# Waiting for a moderator: published, rejected or marked duplicate from here.
OPEN: Final = ("pending", "needs_info")
_GENESIS: Final = b"\x00" * 32
COLUMNS: Final = (
    "id, kind, received_on, triage, sealed, key_ids, status, decided_ms, record_id, reason, "
    "purged_ms, duplicate_of"
)


def receipt_digest(receipt: str) -> bytes:
    """Receipt codes carry over 98 random bits: a plain SHA-256 leaves nothing to brute-force."""
    return hashlib.sha256(receipt.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class Submission:
    id: str
    kind: str
    received_on: str
    triage: dict[str, Any]
    sealed: bytes | None
    key_ids: list[str]
    status: str
    decided_ms: int | None
    record_id: bytes | None
    reason: str | None
    purged_ms: int | None
    duplicate_of: str | None = None


@dataclass(frozen=True, slots=True)
class StoredModeratorKey:
    key_id: str
    public: str
    label: str
    added_ms: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at_ms: int
    actor: str
    action: str
    submission: str | None
    record_id: bytes | None
    detail: dict[str, Any]
    hash: bytes


def submission_row(row: Sequence[Any]) -> Submission:
    return Submission(
        id=row[0],
        kind=row[1],
        received_on=row[2],
        triage=json.loads(row[3]),
        sealed=row[4],
        key_ids=json.loads(row[5]),
        status=row[6],
        decided_ms=row[7],
        record_id=row[8],
        reason=row[9],
        purged_ms=row[10],
        duplicate_of=row[11],
    )


def _entry_hash(
    previous: bytes,
    seq: int,
    at_ms: int,
    actor: str,
    action: str,
    submission: str | None,
    record_id: bytes | None,
    detail: str,
) -> bytes:
    packed = msgpack.packb(
        [seq, at_ms, actor, action, submission, record_id, detail], use_bin_type=True
    )
    return hashlib.sha256(previous + packed).digest()


class SubmissionStore:
    def __init__(self, db: Database, clock: Callable[[], int]) -> None:
        self._db = db
        self._clock = clock
        # Purged private parts may still sit in WAL frames until a checkpoint completes.
        self.wal_owed = False

    # -- intake ---------------------------------------------------------------

    async def add(
        self,
        submission_id: str,
        receipt: str,
        *,
        kind: str,
        received_on: str,
        triage: dict[str, Any],
        sealed: bytes,
        key_ids: Sequence[str],
    ) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO submissions (id, receipt_hash, kind, received_on, triage, sealed, "
                "key_ids) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    submission_id,
                    receipt_digest(receipt),
                    kind,
                    received_on,
                    json.dumps(triage, sort_keys=True),
                    sealed,
                    json.dumps(sorted(key_ids)),
                ),
            )

    async def status_by_receipt(self, receipt: str) -> str | None:
        async with self._db.reader.execute(
            "SELECT status FROM submissions WHERE receipt_hash = ?", (receipt_digest(receipt),)
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    # -- reading --------------------------------------------------------------

    async def get(self, submission_id: str) -> Submission | None:
        async with self._db.reader.execute(
            statement("SELECT {columns} FROM submissions WHERE id = ?", columns=COLUMNS),
            (submission_id,),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else submission_row(row)

    async def page(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[tuple[int, Submission]]:
        """Oldest first, from the arrival position ``after`` on: (position, submission).
        The moderators' queue, with its filters and facets, is :mod:`storage.queue`."""
        conditions, params = ["rowid > ?"], [str(after)]
        if status is not None:
            conditions.append("status = ?")
            params.append(status)
        if kind is not None:
            conditions.append("kind = ?")
            params.append(kind)
        sql = statement(
            "SELECT rowid, {columns} FROM submissions WHERE {where} ORDER BY rowid LIMIT ?",
            columns=COLUMNS,
            where=" AND ".join(conditions),
        )
        async with self._db.reader.execute(sql, (*params, limit)) as cursor:
            rows = await cursor.fetchall()
        return [(int(row[0]), submission_row(row[1:])) for row in rows]

    async def counts(self) -> dict[str, int]:
        """How many submissions are in each status."""
        async with self._db.reader.execute(
            "SELECT status, count(*) FROM submissions GROUP BY status"
        ) as cursor:
            rows = await cursor.fetchall()
        found = {str(status): int(count) for status, count in rows}
        return {status: found.get(status, 0) for status in STATUSES}

    # -- decisions ------------------------------------------------------------

    async def decide(
        self,
        submission_id: str,
        status: str,
        *,
        expected: Sequence[str],
        actor: str,
        action: str,
        detail: dict[str, Any],
        record_id: bytes | None = None,
        reason: str | None = None,
    ) -> bool:
        """Move a submission to ``status`` if it is in one of ``expected``, and log it.

        False (and nothing changed) when its status was not one of ``expected``.
        """
        now = self._clock()
        marks, statuses = expand_in(expected)
        sql = statement(
            "UPDATE submissions SET status = ?, decided_ms = ?, "
            "record_id = coalesce(?, record_id), reason = ? WHERE id = ? AND status IN {marks}",
            marks=marks,
        )
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                sql, (status, now, record_id, reason, submission_id, *statuses)
            )
            if cursor.rowcount == 0:
                return False
            await self.append_audit(conn, now, actor, action, submission_id, record_id, detail)
        return True

    async def purge(self, decided_before_ms: int, *, actor: str) -> list[str]:
        """Delete the private part of every decided submission decided before the given time."""
        now = self._clock()
        marks, decided = expand_in(DECIDED)
        sql = statement(
            "SELECT id FROM submissions WHERE sealed IS NOT NULL "
            "AND status IN {marks} AND decided_ms < ? ORDER BY rowid",
            marks=marks,
        )
        async with self._db.transaction() as conn:
            cursor = await conn.execute(sql, (*decided, decided_before_ms))
            purged = [str(row[0]) for row in await cursor.fetchall()]
            await conn.executemany(
                "UPDATE submissions SET sealed = NULL, purged_ms = ? WHERE id = ?",
                [(now, submission_id) for submission_id in purged],
            )
            # The desk's items go with the private part: sealed answers and notes, and
            # the questions, which may quote the report.
            await conn.executemany(
                "UPDATE submission_items SET sealed = NULL, question = NULL WHERE submission = ?",
                [(submission_id,) for submission_id in purged],
            )
            if purged:
                await self.append_audit(
                    conn,
                    now,
                    actor,
                    "purge",
                    None,
                    None,
                    {"count": len(purged), "decided_before_ms": decided_before_ms},
                )
        if purged or self.wal_owed:
            await self.settle_wal()
        return purged

    async def settle_wal(self) -> bool:
        """Checkpoint and truncate the WAL, so purged private parts leave it too.

        secure_delete zeroes the freed pages in the database; the checkpoint
        moves them out of the WAL, and truncating it drops the old frames. A
        reader can block it: then it stays owed (:attr:`wal_owed`) until it works.
        """
        self.wal_owed = not await self._db.checkpoint()
        return not self.wal_owed

    # -- moderator keys -------------------------------------------------------

    async def add_key(self, key_id: str, public: str, label: str, *, actor: str) -> bool:
        """Add a moderator key; False if it was already there."""
        now = self._clock()
        async with self._db.transaction() as conn:
            try:
                await conn.execute(
                    "INSERT INTO moderator_keys (key_id, public, label, added_ms) "
                    "VALUES (?, ?, ?, ?)",
                    (key_id, public, label, now),
                )
            except sqlite3.IntegrityError:
                return False
            await self.append_audit(
                conn, now, actor, "add-key", None, None, {"key_id": key_id, "label": label}
            )
        return True

    async def remove_key(self, key_id: str, *, actor: str) -> bool:
        now = self._clock()
        async with self._db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM moderator_keys WHERE key_id = ?", (key_id,))
            if cursor.rowcount == 0:
                return False
            await self.append_audit(conn, now, actor, "remove-key", None, None, {"key_id": key_id})
        return True

    async def keys(self) -> list[StoredModeratorKey]:
        async with self._db.reader.execute(
            "SELECT key_id, public, label, added_ms FROM moderator_keys ORDER BY added_ms, key_id"
        ) as cursor:
            rows = await cursor.fetchall()
        return [StoredModeratorKey(*row) for row in rows]

    # -- audit log ------------------------------------------------------------

    async def audit(
        self, *, actor: str, action: str, submission: str | None = None, **detail: Any
    ) -> None:
        """Log an action that changes no submission row (a publication's correction, say)."""
        async with self._db.transaction() as conn:
            await self.append_audit(conn, self._clock(), actor, action, submission, None, detail)

    async def published_records(self, submission_id: str) -> list[bytes]:
        """Ids of the records published from a submission, first publication first."""
        async with self._db.reader.execute(
            "SELECT record_id FROM audit_log WHERE submission = ? "
            "AND action IN ('publish', 'correct') ORDER BY seq",
            (submission_id,),
        ) as cursor:
            return [bytes(row[0]) for row in await cursor.fetchall()]

    async def audit_log(
        self, *, after: int = 0, limit: int = 1000, submission: str | None = None
    ) -> list[AuditEntry]:
        """Entries oldest first; with ``submission``, only those about it."""
        where, param = ("seq > ?", after) if submission is None else ("submission = ?", submission)
        sql = statement(
            "SELECT seq, at_ms, actor, action, submission, record_id, detail, hash "
            "FROM audit_log WHERE {where} ORDER BY seq LIMIT ?",
            where=where,
        )
        async with self._db.reader.execute(sql, (param, limit)) as cursor:
            rows = await cursor.fetchall()
        return [
            AuditEntry(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]), row[7])
            for row in rows
        ]

    async def verify_audit_log(self) -> int | None:
        """The seq of the first entry whose hash does not follow from those before, else None.

        A gap in the seqs counts too: AUTOINCREMENT never reuses or skips one.
        """
        previous, expected_seq = _GENESIS, 1
        async with self._db.reader.execute(
            "SELECT seq, at_ms, actor, action, submission, record_id, detail, hash "
            "FROM audit_log ORDER BY seq"
        ) as cursor:
            async for row in cursor:
                seq = int(row[0])
                want = _entry_hash(previous, seq, *row[1:7])
                if seq != expected_seq or want != row[7]:
                    return expected_seq if seq != expected_seq else seq
                previous, expected_seq = want, seq + 1
        return None

    async def append_audit(
        self,
        conn: Any,
        at_ms: int,
        actor: str,
        action: str,
        submission: str | None,
        record_id: bytes | None,
        detail: dict[str, Any],
    ) -> None:
        """Append an entry within the caller's transaction (``conn``), chained to the last."""
        cursor = await conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        last = await cursor.fetchone()
        seq, previous = (1, _GENESIS) if last is None else (int(last[0]) + 1, bytes(last[1]))
        text = json.dumps(detail, sort_keys=True)
        digest = _entry_hash(previous, seq, at_ms, actor, action, submission, record_id, text)
        await conn.execute(
            "INSERT INTO audit_log (seq, at_ms, actor, action, submission, record_id, detail, "
            "hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, at_ms, actor, action, submission, record_id, text, digest),
        )
