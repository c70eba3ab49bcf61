"""What a record page needs beyond the record: its fate, its later versions, who signed it.

A record page (:mod:`node.web.recordpage`) shows one record with its version
history and the chapter that signed it. :class:`RecordHistory` answers those
reads on the reader connection, each through an index (``records.id``'s unique
index, ``records_supersedes``, ``members``' key, ``(origin, audience, seq)``),
so a page costs a handful of lookups whatever the database holds. Earlier
versions are the record bodies' own ``supersedes`` ids, read with
:meth:`storage.stored.RecordReader.get`.
"""

from dataclasses import dataclass

from storage.database import Database


@dataclass(frozen=True, slots=True)
class RecordFate:
    """What became of a stored record: replaced, withdrawn, erased, or none of these."""

    superseded_by: bytes | None
    retracted_by: bytes | None  # the retraction (or the revoking membership record)
    erased: bool


@dataclass(frozen=True, slots=True)
class Signer:
    """Who a key is, as the network knows it: its latest ``node`` record in the asked
    audience, and the stewards' latest decision about it (``members``)."""

    node_body: bytes | None  # the latest node record's body, to decode
    member_name: str | None
    member_city: str | None
    member_country: str | None
    member_role: str | None
    member_action: str | None


class RecordHistory:
    """Reads around one record, on the reader connection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def fate(self, record_id: bytes) -> RecordFate | None:
        async with self._db.reader.execute(
            "SELECT superseded_by, retracted_by, erased_ms FROM records WHERE id = ?",
            (record_id,),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return RecordFate(row[0], row[1], row[2] is not None)

    async def later_versions(self, record_id: bytes, origin: bytes) -> list[bytes]:
        """Ids of the records of ``origin`` that name ``record_id`` as the version they
        replace (normally one; a feed may hold two, which the page shows as they are)."""
        async with self._db.reader.execute(
            "SELECT id FROM records WHERE supersedes = ? AND origin = ? ORDER BY created_ms, rid",
            (record_id, origin),
        ) as cursor:
            return [row[0] async for row in cursor]

    async def signer(self, origin: bytes, audience: str) -> Signer:
        async with self._db.reader.execute(
            # Through the kind's index (a few node records), not the origin's feed: the
            # unary + keeps SQLite from walking every record of a large chapter.
            "SELECT b.body FROM records r JOIN bodies b ON b.rid = r.rid "
            "WHERE +r.origin = ? AND +r.audience = ? AND r.kind = 'node' "
            "AND r.retracted_by IS NULL ORDER BY r.seq DESC LIMIT 1",
            (origin, audience),
        ) as cursor:
            node = await cursor.fetchone()
        async with self._db.reader.execute(
            "SELECT name, city, country, role, action FROM members WHERE subject = ?", (origin,)
        ) as cursor:
            member = await cursor.fetchone()
        name, city, country, role, action = member if member is not None else (None,) * 5
        return Signer(node[0] if node else None, name, city, country, role, action)
