"""Stored records as they are read back, and the reads over all of them by arrival.

:class:`RecordReader` is the read side of :class:`storage.records.RecordStore`:
one record by id, pages and iteration in arrival order, counts, feeds and fork
evidence. Filtered reads of current incidents and deployments are
:mod:`storage.queries`.
"""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from protocol.envelope import Envelope, decode_envelope
from protocol.records import SignedRecord
from storage import pending
from storage.database import Database
from storage.sql import expand_in


@dataclass(frozen=True, slots=True)
class StoredRecord:
    rid: int
    envelope: Envelope
    envelope_bytes: bytes
    signature: bytes
    body: bytes | None
    erased: bool

    @property
    def id(self) -> bytes:
        return SignedRecord(self.envelope_bytes, self.signature, self.body).id

    def signed(self) -> SignedRecord:
        return SignedRecord(self.envelope_bytes, self.signature, self.body)


@dataclass(frozen=True, slots=True)
class RecordFilter:
    kinds: Sequence[str] = ()
    origin: bytes | None = None
    audiences: Sequence[str] = ()
    since_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Fork:
    origin: bytes
    audience: str
    seq: int
    first_id: bytes
    second_id: bytes
    detected_ms: int


_SELECT_RECORDS = (
    "SELECT r.rid, r.envelope, r.signature, b.body, r.erased_ms "
    "FROM records r LEFT JOIN bodies b ON b.rid = r.rid"
)


class RecordReader:
    """Reads of stored records, on the reader connection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, record_id: bytes) -> StoredRecord | None:
        """The record ``record_id``, indexed or acknowledged and waiting in the log
        (``rid`` 0). The index is read again after the log: a record indexed between
        the first two reads is found by the third."""
        rows = await self._select("WHERE r.id = ?", (record_id,))
        if rows:
            return rows[0]
        logged = await pending.find(self._db.reader, record_id)
        if logged is not None:
            return StoredRecord(
                rid=0,
                envelope=decode_envelope(logged.envelope),
                envelope_bytes=logged.envelope,
                signature=logged.signature,
                body=logged.body,
                erased=False,
            )
        rows = await self._select("WHERE r.id = ?", (record_id,))
        return rows[0] if rows else None

    async def page(
        self, where: RecordFilter, *, after_rid: int = 0, limit: int = 100
    ) -> list[StoredRecord]:
        clauses: list[str] = ["r.rid > ?"]
        params: list[Any] = [after_rid]
        for column, values in (("r.kind", where.kinds), ("r.audience", where.audiences)):
            if values:
                marks, listed = expand_in(values)
                clauses.append(f"{column} IN {marks}")
                params.extend(listed)
        if where.origin is not None:
            clauses.append("r.origin = ?")
            params.append(where.origin)
        if where.since_ms is not None:
            clauses.append("r.created_ms >= ?")
            params.append(where.since_ms)
        return await self._select(
            f"WHERE {' AND '.join(clauses)} ORDER BY r.rid LIMIT ?", (*params, limit)
        )

    async def iterate(self, where: RecordFilter, *, page: int = 500) -> AsyncIterator[StoredRecord]:
        """Every matching record in arrival order, a page at a time (constant memory)."""
        after = 0
        while True:
            rows = await self.page(where, after_rid=after, limit=page)
            for row in rows:
                yield row
            if len(rows) < page:
                return
            after = rows[-1].rid

    async def counts(self) -> list[tuple[str, str, int]]:
        """(kind, audience, count) for every kind and audience held."""
        async with self._db.reader.execute(
            "SELECT kind, audience, COUNT(*) FROM records GROUP BY kind, audience ORDER BY 1, 2"
        ) as cursor:
            return [(row[0], row[1], row[2]) async for row in cursor]

    async def feeds(self) -> list[tuple[bytes, str, int]]:
        async with self._db.reader.execute(
            "SELECT origin, audience, max_seq FROM feeds ORDER BY origin, audience"
        ) as cursor:
            return [(row[0], row[1], row[2]) async for row in cursor]

    async def forks(self) -> list[Fork]:
        async with self._db.reader.execute(
            "SELECT origin, audience, seq, first_id, id, detected_ms FROM forks "
            "ORDER BY detected_ms, id"
        ) as cursor:
            return [Fork(*row) async for row in cursor]

    async def flagged_origins(self) -> list[bytes]:
        async with self._db.reader.execute(
            "SELECT DISTINCT origin FROM forks ORDER BY origin"
        ) as cursor:
            return [row[0] async for row in cursor]

    async def _select(self, tail: str, params: Sequence[Any]) -> list[StoredRecord]:
        # tail is assembled from fixed SQL fragments; values are bound parameters.
        sql = f"{_SELECT_RECORDS} {tail}"
        async with self._db.reader.execute(
            sql,
            params,
        ) as cursor:
            return [
                StoredRecord(
                    rid=rid,
                    envelope=decode_envelope(envelope),
                    envelope_bytes=envelope,
                    signature=signature,
                    body=body,
                    erased=erased_ms is not None,
                )
                async for rid, envelope, signature, body, erased_ms in cursor
            ]
