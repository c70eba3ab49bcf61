"""What the moderators' desk keeps on a submission beside its row: claims, and the
submission's items (notes, questions to the reporter, the reporter's answers).

- A **claim** names the actor working on a submission until ``expires_ms``; a lapsed
  one is as good as none, and is overwritten by the next claim.
- A **note** and an **answer** are sealed boxes (:mod:`protocol.sealing`): the
  node stores ciphertext it cannot open. A **question** is clear text the
  moderator wrote for the reporter, shown to the holder of the receipt code.
- Items stay on this node (submissions are never replicated nor exported) and
  lose their content when the submission's private part is purged.

Every change writes the audit log (:meth:`SubmissionStore.append_audit`) in the
same transaction, with ids and lengths, never content.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from storage.database import Database
from storage.sql import expand_in, statement
from storage.submissions import OPEN, SubmissionStore, receipt_digest

_ITEM_COLUMNS: Final = "id, submission, type, at_ms, actor, sealed, key_ids, question, question_id"


@dataclass(frozen=True, slots=True)
class Claim:
    holder: str
    since_ms: int
    expires_ms: int


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    """The claim held after a claim request; ``refused`` when it is another's."""

    claim: Claim
    taken_from: str | None = None
    refused: bool = False


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    submission: str
    type: str
    at_ms: int
    actor: str
    sealed: bytes | None
    key_ids: list[str]
    question: str | None
    question_id: int | None


def _item(row: Sequence[Any]) -> Item:
    return Item(
        int(row[0]),
        row[1],
        row[2],
        int(row[3]),
        row[4],
        None if row[5] is None else bytes(row[5]),
        json.loads(row[6]),
        row[7],
        row[8],
    )


class DeskStore:
    def __init__(self, db: Database, clock: Callable[[], int], log: SubmissionStore) -> None:
        self._db = db
        self._clock = clock
        self._log = log

    # -- claims ---------------------------------------------------------------

    async def claim(
        self, submission: str, actor: str, *, minutes: int, take_over: bool
    ) -> ClaimOutcome:
        """Claim for ``actor``: renew its own, take over another's live one if asked."""
        now = self._clock()
        expires = now + minutes * 60_000
        async with self._db.transaction() as conn:
            current = await _live(conn, submission, now)
            if current is not None and current.holder != actor and not take_over:
                return ClaimOutcome(current, refused=True)
            renewed = current is not None and current.holder == actor
            taken_from = current.holder if current is not None and not renewed else None
            claim = Claim(actor, current.since_ms if renewed and current else now, expires)
            await conn.execute(
                "INSERT OR REPLACE INTO submission_claims (submission, holder, since_ms, "
                "expires_ms) VALUES (?, ?, ?, ?)",
                (submission, claim.holder, claim.since_ms, claim.expires_ms),
            )
            detail: dict[str, Any] = {"expires_ms": expires}
            if renewed:
                detail["renewed"] = True
            if taken_from is not None:
                detail["from"] = taken_from
            action = "take-over" if taken_from is not None else "claim"
            await self._log.append_audit(conn, now, actor, action, submission, None, detail)
        return ClaimOutcome(claim, taken_from)

    async def release(self, submission: str, actor: str) -> tuple[bool, Claim | None]:
        """(released, another's live claim that stopped it)."""
        now = self._clock()
        async with self._db.transaction() as conn:
            current = await _live(conn, submission, now)
            if current is None:
                return False, None
            if current.holder != actor:
                return False, current
            await conn.execute("DELETE FROM submission_claims WHERE submission = ?", (submission,))
            await self._log.append_audit(conn, now, actor, "release", submission, None, {})
        return True, None

    async def live_claims(self, submissions: Sequence[str]) -> dict[str, Claim]:
        """The live claim of each submission that has one."""
        if not submissions:
            return {}
        marks, ids = expand_in(submissions)
        sql = statement(
            "SELECT submission, holder, since_ms, expires_ms FROM submission_claims "
            "WHERE expires_ms > ? AND submission IN {marks}",
            marks=marks,
        )
        async with self._db.reader.execute(sql, (self._clock(), *ids)) as cursor:
            rows = await cursor.fetchall()
        return {str(row[0]): Claim(row[1], int(row[2]), int(row[3])) for row in rows}

    async def held_by_other(self, submission: str, actor: str) -> Claim | None:
        """The live claim on ``submission`` if someone other than ``actor`` holds it."""
        claim = (await self.live_claims([submission])).get(submission)
        return claim if claim is not None and claim.holder != actor else None

    # -- items ----------------------------------------------------------------

    async def add_note(
        self, submission: str, actor: str, sealed: bytes, key_ids: Sequence[str]
    ) -> Item:
        now = self._clock()
        async with self._db.transaction() as conn:
            item_id = await _insert_item(conn, submission, "note", now, actor, sealed, key_ids)
            await self._log.append_audit(
                conn,
                now,
                actor,
                "note",
                submission,
                None,
                {"note_id": item_id, "key_ids": sorted(key_ids)},
            )
        return Item(item_id, submission, "note", now, actor, sealed, sorted(key_ids), None, None)

    async def ask(self, submission: str, actor: str, question: str) -> int | None:
        """Ask the reporter: the question's id, None if the submission is not open."""
        now = self._clock()
        marks, statuses = expand_in(OPEN)
        sql = statement(
            "UPDATE submissions SET status = 'needs_info' WHERE id = ? AND status IN {marks}",
            marks=marks,
        )
        async with self._db.transaction() as conn:
            cursor = await conn.execute(sql, (submission, *statuses))
            if cursor.rowcount == 0:
                return None
            item_id = await _insert_item(
                conn, submission, "question", now, actor, None, (), question=question
            )
            detail = {"question_id": item_id, "length": len(question)}
            await self._log.append_audit(conn, now, actor, "ask", submission, None, detail)
        return item_id

    async def waiting_question(self, submission: str) -> Item | None:
        """The question a ``needs_info`` submission waits on (the latest asked)."""
        sql = statement(
            "SELECT {columns} FROM submission_items WHERE submission = ? AND type = 'question' "
            "AND EXISTS (SELECT 1 FROM submissions WHERE id = ? AND status = 'needs_info') "
            "ORDER BY id DESC LIMIT 1",
            columns=_ITEM_COLUMNS,
        )
        async with self._db.reader.execute(sql, (submission, submission)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _item(row)

    async def answer(
        self, submission: str, question_id: int, sealed: bytes, key_ids: Sequence[str]
    ) -> int | None:
        """Store the reporter's sealed answer and reopen the submission; None if no
        question waits any more."""
        now = self._clock()
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE submissions SET status = 'pending' WHERE id = ? AND status = 'needs_info'",
                (submission,),
            )
            if cursor.rowcount == 0:
                return None
            item_id = await _insert_item(
                conn,
                submission,
                "answer",
                now,
                "reporter",
                sealed,
                key_ids,
                question_id=question_id,
            )
            detail = {"answer_id": item_id, "question_id": question_id, "key_ids": sorted(key_ids)}
            await self._log.append_audit(conn, now, "reporter", "answer", submission, None, detail)
        return item_id

    async def items(self, submission: str) -> list[Item]:
        sql = statement(
            "SELECT {columns} FROM submission_items WHERE submission = ? ORDER BY id",
            columns=_ITEM_COLUMNS,
        )
        async with self._db.reader.execute(sql, (submission,)) as cursor:
            return [_item(row) for row in await cursor.fetchall()]

    # -- duplicates -----------------------------------------------------------

    async def mark_duplicate(self, submission: str, of: str, actor: str) -> bool:
        """Mark an open submission as a duplicate of ``of``; False if it is not open."""
        now = self._clock()
        marks, statuses = expand_in(OPEN)
        sql = statement(
            "UPDATE submissions SET status = 'duplicate', decided_ms = ?, reason = 'duplicate', "
            "duplicate_of = ? WHERE id = ? AND status IN {marks}",
            marks=marks,
        )
        async with self._db.transaction() as conn:
            cursor = await conn.execute(sql, (now, of, submission, *statuses))
            if cursor.rowcount == 0:
                return False
            await conn.execute("DELETE FROM submission_claims WHERE submission = ?", (submission,))
            await self._log.append_audit(
                conn, now, actor, "duplicate", submission, None, {"of": of}
            )
        return True

    async def by_receipt(self, receipt: str) -> tuple[str, str] | None:
        """(id, status) of the submission with this receipt code."""
        return await by_receipt(self._db, receipt_digest(receipt))

    async def record_exists(self, record_id: bytes) -> bool:
        async with self._db.reader.execute(
            "SELECT 1 FROM records WHERE id = ?", (record_id,)
        ) as cursor:
            return await cursor.fetchone() is not None


async def _live(conn: Any, submission: str, now: int) -> Claim | None:
    cursor = await conn.execute(
        "SELECT holder, since_ms, expires_ms FROM submission_claims "
        "WHERE submission = ? AND expires_ms > ?",
        (submission, now),
    )
    row = await cursor.fetchone()
    return None if row is None else Claim(row[0], int(row[1]), int(row[2]))


async def _insert_item(
    conn: Any,
    submission: str,
    kind: str,
    at_ms: int,
    actor: str,
    sealed: bytes | None,
    key_ids: Sequence[str],
    *,
    question: str | None = None,
    question_id: int | None = None,
) -> int:
    cursor = await conn.execute(
        "INSERT INTO submission_items (submission, type, at_ms, actor, sealed, key_ids, "
        "question, question_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            submission,
            kind,
            at_ms,
            actor,
            sealed,
            json.dumps(sorted(key_ids)),
            question,
            question_id,
        ),
    )
    return int(cursor.lastrowid)


async def by_receipt(db: Database, receipt_hash: bytes) -> tuple[str, str] | None:
    """(id, status) of the submission with this receipt code's digest."""
    async with db.reader.execute(
        "SELECT id, status FROM submissions WHERE receipt_hash = ?", (receipt_hash,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else (str(row[0]), str(row[1]))
