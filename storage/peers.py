"""Peers: where they are, how syncing with them went, and what they last advertised.

A peer comes from the config (``[[peers]]``), from ``banscan peers add``
(``cli``), or from a member's ``node`` record (``discovered``). A peer from
the config or the CLI keeps its URL when a ``node`` record names another.

Each peer's advertised vector is its **checkpoint**: what this node knows the
peer holds. It shows how far behind each feed is, and it is refreshed by
every sync session for the buckets that were compared.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from protocol.sync import Feed, bucket_of
from storage.database import Database
from storage.sql import statement

SOURCES = ("config", "cli", "discovered")


@dataclass(frozen=True, slots=True)
class Peer:
    key: bytes
    url: str
    source: str
    added_ms: int
    last_attempt_ms: int | None = None
    last_success_ms: int | None = None
    failures: int = 0
    last_error: str | None = None
    backoff_until_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Lag:
    """A feed the peer advertised: its seq there and here."""

    origin: bytes
    audience: str
    theirs: int
    ours: int


_PEER_COLUMNS = (
    "key, url, source, added_ms, last_attempt_ms, last_success_ms, failures, last_error, "
    "backoff_until_ms"
)


class PeerStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, key: bytes, url: str, source: str, now: int) -> None:
        """Add a peer, or update its URL; a discovered URL never replaces a configured one."""
        assert source in SOURCES
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO peers (key, url, source, added_ms) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET url = excluded.url, source = excluded.source "
                "WHERE excluded.source != 'discovered' OR peers.source = 'discovered'",
                (key, url, source, now),
            )

    async def remove(self, key: bytes) -> bool:
        async with self._db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM peers WHERE key = ?", (key,))
            await conn.execute("DELETE FROM peer_feeds WHERE peer = ?", (key,))
            return cursor.rowcount > 0

    async def all(self) -> list[Peer]:
        # One round trip to the reader's thread (a cursor's rows would take three):
        # every eager push after a publish reads this.
        rows = await self._db.reader.execute_fetchall(
            statement("SELECT {columns} FROM peers ORDER BY added_ms, key", columns=_PEER_COLUMNS)
        )
        return [Peer(*row) for row in rows]

    async def get(self, key: bytes) -> Peer | None:
        async with self._db.reader.execute(
            statement("SELECT {columns} FROM peers WHERE key = ?", columns=_PEER_COLUMNS),
            (key,),
        ) as cursor:
            row = await cursor.fetchone()
        return Peer(*row) if row else None

    async def retry_all(self) -> None:
        """Lift every backoff, so a restarted node tries each peer at once."""
        async with self._db.transaction() as conn:
            await conn.execute("UPDATE peers SET backoff_until_ms = NULL")

    async def succeeded(self, key: bytes, now: int) -> None:
        """A session ended well (one write per session, so an in-sync check costs one)."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE peers SET last_attempt_ms = ?, last_success_ms = ?, failures = 0, "
                "last_error = NULL, backoff_until_ms = NULL WHERE key = ?",
                (now, now, key),
            )

    async def failed(self, key: bytes, error: str, now: int, backoff_until_ms: int) -> int:
        """Count a failure; returns the number of consecutive failures."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE peers SET last_attempt_ms = ?, failures = failures + 1, last_error = ?, "
                "backoff_until_ms = ? WHERE key = ?",
                (now, error[:500], backoff_until_ms, key),
            )
            rows = await conn.execute_fetchall("SELECT failures FROM peers WHERE key = ?", (key,))
        return next(iter(rows))[0] if rows else 0

    async def interrupted(self, key: bytes, error: str, now: int) -> None:
        """A session failed through no proven fault of the peer: note it, leaving the
        count of failures and the backoff as they are."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE peers SET last_attempt_ms = ?, last_error = ? WHERE key = ?",
                (now, error[:500], key),
            )

    async def advertised(
        self,
        peer: bytes,
        audiences: Collection[str],
        buckets: Collection[int],
        entries: Mapping[Feed, int],
    ) -> None:
        """Replace the peer's checkpoint for ``audiences`` and ``buckets`` with ``entries``."""
        async with self._db.transaction() as conn:
            rows = await conn.execute_fetchall(
                "SELECT origin, audience FROM peer_feeds WHERE peer = ?", (peer,)
            )
            stale = [
                (peer, origin, audience)
                for origin, audience in rows
                if audience in audiences
                and bucket_of(origin) in buckets
                and (origin, audience) not in entries
            ]
            await conn.executemany(
                "DELETE FROM peer_feeds WHERE peer = ? AND origin = ? AND audience = ?", stale
            )
            await conn.executemany(
                "INSERT INTO peer_feeds (peer, origin, audience, max_seq) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (peer, origin, audience) DO UPDATE SET max_seq = excluded.max_seq",
                [(peer, origin, audience, seq) for (origin, audience), seq in entries.items()],
            )

    async def known_seq(self, peer: bytes, feed: Feed) -> int:
        """The seq the peer is known to hold of ``feed`` (0 if unknown)."""
        async with self._db.reader.execute(
            "SELECT max_seq FROM peer_feeds WHERE peer = ? AND origin = ? AND audience = ?",
            (peer, *feed),
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def note(self, peer: bytes, feed: Feed, seq: int) -> None:
        """Remember that the peer holds ``feed`` up to ``seq``."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO peer_feeds (peer, origin, audience, max_seq) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (peer, origin, audience) DO UPDATE SET max_seq = excluded.max_seq",
                (peer, *feed, seq),
            )

    async def behind(self, peer: bytes) -> list[Lag]:
        """Feeds where the peer advertised more than this node holds."""
        async with self._db.reader.execute(
            "SELECT p.origin, p.audience, p.max_seq, COALESCE(f.max_seq, 0) FROM peer_feeds p "
            "LEFT JOIN feeds f ON f.origin = p.origin AND f.audience = p.audience "
            "WHERE p.peer = ? AND p.max_seq > COALESCE(f.max_seq, 0) "
            "ORDER BY p.origin, p.audience",
            (peer,),
        ) as cursor:
            return [Lag(*row) async for row in cursor]

    async def advertised_max(self) -> dict[Feed, int]:
        """For each feed, the highest seq any peer advertised."""
        async with self._db.reader.execute(
            "SELECT origin, audience, MAX(max_seq) FROM peer_feeds GROUP BY origin, audience"
        ) as cursor:
            return {(origin, audience): seq async for origin, audience, seq in cursor}

    async def node_records(self) -> list[tuple[bytes, bytes]]:
        """``(origin, body)`` of each origin's latest ``node`` record that still has its body."""
        async with self._db.reader.execute(
            "SELECT r.origin, b.body FROM records r JOIN bodies b ON b.rid = r.rid "
            "WHERE r.kind = 'node' AND r.rid = ("
            " SELECT MAX(n.rid) FROM records n WHERE n.kind = 'node' AND n.origin = r.origin)"
        ) as cursor:
            return [(origin, body) async for origin, body in cursor]
