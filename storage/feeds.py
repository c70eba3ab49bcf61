"""Feeds as sync sees them: the vector of what this node holds, and ranges of records.

A feed's records are served in seq order exactly as stored: the first
envelope of a slot (never fork evidence), and with no body once the body was
erased, so the signed envelope still travels as a tombstone.

A feed's head (``feeds``) moves when a batch is acknowledged, before the indexer
has reached its records, so every read here takes a slot from the index
(``records``) or from the log of records not yet indexed (``pending``,
:mod:`storage.pending`): a peer is never offered what this node cannot send.
"""

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

from protocol.records import SignedRecord
from protocol.sync import Feed, Want
from protocol.sync2 import FEED_DIGEST_START, Entry, feed_digest, feed_step
from storage.database import Database
from storage.sql import expand_in, statement

# A feed's slots in a range, from the index and from the log, in seq order.
_RANGE = (
    "SELECT r.seq, r.envelope, r.signature, b.body FROM records r "
    "LEFT JOIN bodies b ON b.rid = r.rid "
    "WHERE r.origin = ? AND r.audience = ? AND r.seq > ? AND r.seq <= ? "
    "UNION ALL SELECT seq, envelope, signature, body FROM pending "
    "WHERE origin = ? AND audience = ? AND seq > ? AND seq <= ? "
    "ORDER BY 1 LIMIT ?"
)


class FeedStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        # Each feed's (seq, digest over its stored ids up to seq): slots below a feed's
        # head never change, so the digest is extended from here as the feed grows.
        self._chains: dict[Feed, Entry] = {}
        # Forked feeds' digests, by (seq, number of evidence ids) when computed.
        self._forked: dict[Feed, tuple[tuple[int, int], bytes]] = {}

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

    async def vector2(self, audiences: Collection[str]) -> dict[Feed, Entry]:
        """``{(origin, audience): (max contiguous seq, feed digest)}`` (docs/protocol.md
        section 16.1): the digest covers the stored ids and, for a forked feed, the
        fork evidence held."""
        heads = await self.vector(audiences)
        forked = await self._evidence_ids(audiences)
        out: dict[Feed, Entry] = {}
        for feed, seq in heads.items():
            if feed in forked:
                out[feed] = (seq, await self._forked_digest(feed, seq, forked[feed]))
            else:
                out[feed] = (seq, await self._chain(feed, seq))
        return out

    async def _chain(self, feed: Feed, seq: int) -> bytes:
        done, digest = self._chains.get(feed, (0, FEED_DIGEST_START))
        if done > seq:  # another store replaced the database under this one
            done, digest = 0, FEED_DIGEST_START
        if done < seq:
            for record_id in await self.slot_ids(feed, done, seq):
                digest = feed_step(digest, (record_id,))
            self._chains[feed] = (seq, digest)
        return digest

    async def _forked_digest(self, feed: Feed, seq: int, evidence: dict[int, list[bytes]]) -> bytes:
        """The digest of a feed with fork evidence, computed again only when its seq or its
        evidence changed."""
        key = (seq, sum(len(ids) for ids in evidence.values()))
        cached = self._forked.get(feed)
        if cached is not None and cached[0] == key:
            return cached[1]
        ids = await self.slot_ids(feed, 0, seq)
        digest = feed_digest([ids[i], *evidence.get(i + 1, ())] for i in range(len(ids)))
        self._forked[feed] = (key, digest)
        return digest

    async def _evidence_ids(self, audiences: Collection[str]) -> dict[Feed, dict[int, list[bytes]]]:
        """The ids of fork evidence held, by feed and seq (few: forks are rare)."""
        found: dict[Feed, dict[int, list[bytes]]] = defaultdict(lambda: defaultdict(list))
        async with self._db.reader.execute("SELECT origin, audience, seq, id FROM forks") as cur:
            async for origin, audience, seq, record_id in cur:
                if audience in audiences:
                    found[(origin, audience)][seq].append(bytes(record_id))
        return found

    async def slot_ids(self, feed: Feed, after: int, upto: int) -> list[bytes]:
        """The stored ids of slots ``after < seq <= upto`` of ``feed``, in seq order."""
        rows = await self._db.reader.execute_fetchall(
            "SELECT id, seq FROM records WHERE origin = ? AND audience = ? AND seq > ? "
            "AND seq <= ? UNION ALL SELECT id, seq FROM pending WHERE origin = ? "
            "AND audience = ? AND seq > ? AND seq <= ? ORDER BY 2",
            (*feed, after, upto) * 2,
        )
        return [bytes(row[0]) for row in rows]

    async def evidence(self, feed: Feed, after: int, ids: Sequence[bytes]) -> list[SignedRecord]:
        """Envelopes (no bodies) of slots ``after + 1 ... after + len(ids)`` that ``ids``
        do not name: the stored one where it differs from the id given, and fork evidence."""
        upto = after + len(ids)
        known = set(ids)
        out: list[SignedRecord] = []
        async with self._db.reader.execute(
            "SELECT seq, id, envelope, signature FROM records WHERE origin = ? AND audience = ? "
            "AND seq > ? AND seq <= ? UNION ALL SELECT seq, id, envelope, signature FROM pending"
            " WHERE origin = ? AND audience = ? AND seq > ? AND seq <= ? ORDER BY 1",
            (*feed, after, upto) * 2,
        ) as cursor:
            async for seq, record_id, envelope, signature in cursor:
                if bytes(record_id) != ids[seq - after - 1]:
                    out.append(SignedRecord(envelope, signature, None))
        async with self._db.reader.execute(
            "SELECT id, envelope, signature FROM forks WHERE origin = ? AND audience = ? "
            "AND seq > ? AND seq <= ? ORDER BY seq, id",
            (*feed, after, upto),
        ) as cursor:
            async for record_id, envelope, signature in cursor:
                if bytes(record_id) not in known:
                    out.append(SignedRecord(envelope, signature, None))
        return out

    async def quarantined_heads(self, heads: Mapping[Feed, int]) -> dict[Feed, int]:
        """For each feed of ``heads`` (its stored max seq), how far the records held in the
        quarantine carry it on with no gap; only feeds they carry on are listed."""
        found: dict[Feed, int] = {}
        for feed, head in heads.items():
            reach = head
            async with self._db.reader.execute(
                "SELECT DISTINCT seq FROM quarantine WHERE origin = ? AND audience = ? "
                "AND seq > ? ORDER BY seq",
                (*feed, head),
            ) as cursor:
                async for (seq,) in cursor:
                    if seq != reach + 1:
                        break
                    reach = seq
            if reach > head:
                found[feed] = reach
        return found

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
            slots = (want.origin, want.audience, want.after, want.upto)
            async with self._db.reader.execute(_RANGE, (*slots, *slots, left)) as cursor:
                async for _, envelope, signature, body in cursor:
                    record_size = len(envelope) + len(signature) + len(body or b"") + 8
                    if out and size + record_size > max_bytes:
                        return out
                    out.append(SignedRecord(envelope, signature, body))
                    size += record_size
        return out
