"""Feeds as sync sees them: the vector of what this node holds, and ranges of records.

A feed's records are served in seq order exactly as stored: the first
envelope of a slot (never fork evidence), and with no body once the body was
erased, so the signed envelope still travels as a tombstone.
"""

from collections.abc import Collection, Sequence

from protocol.records import SignedRecord
from protocol.sync import Feed, Want
from storage.database import Database
from storage.sql import expand_in, statement


class FeedStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def vector(self, audiences: Collection[str]) -> dict[Feed, int]:
        """``{(origin, audience): max contiguous seq}`` for the feeds of ``audiences`` held."""
        if not audiences:
            return {}
        marks, params = expand_in(audiences)
        sql = statement(
            "SELECT origin, audience, max_seq FROM feeds WHERE audience IN {marks}", marks=marks
        )
        async with self._db.reader.execute(sql, params) as cursor:
            return {(origin, audience): seq async for origin, audience, seq in cursor}

    async def heads(self, origin: bytes) -> dict[str, int]:
        """``{audience: max contiguous seq}`` of ``origin``'s feeds."""
        async with self._db.reader.execute(
            "SELECT audience, max_seq FROM feeds WHERE origin = ?", (origin,)
        ) as cursor:
            return {audience: seq async for audience, seq in cursor}

    async def read(
        self, wants: Sequence[Want], *, max_records: int, max_bytes: int
    ) -> list[SignedRecord]:
        """Records of ``wants`` in order, at most ``max_records`` and about ``max_bytes``.

        A range is cut short where the records run out, so the caller asks
        again from where the answer stopped.
        """
        out: list[SignedRecord] = []
        size = 0
        for want in wants:
            left = max_records - len(out)
            if left <= 0:
                break
            async with self._db.reader.execute(
                "SELECT r.envelope, r.signature, b.body FROM records r "
                "LEFT JOIN bodies b ON b.rid = r.rid "
                "WHERE r.origin = ? AND r.audience = ? AND r.seq > ? AND r.seq <= ? "
                "ORDER BY r.seq LIMIT ?",
                (want.origin, want.audience, want.after, want.upto, left),
            ) as cursor:
                async for envelope, signature, body in cursor:
                    record_size = len(envelope) + len(signature) + len(body or b"") + 8
                    if out and size + record_size > max_bytes:
                        return out
                    out.append(SignedRecord(envelope, signature, body))
                    size += record_size
        return out
