"""The node's store: the database and the typed stores over it, opened and closed together."""

import time
from collections.abc import Callable
from pathlib import Path

from protocol.trust import Trust
from storage.database import Database, Synchronous
from storage.desk import DeskStore
from storage.feeds import FeedStore
from storage.mapdata import MapData
from storage.nonces import NonceStore
from storage.peers import PeerStore
from storage.quarantine import DEFAULT_MAX_BYTES
from storage.queries import RecordQueries
from storage.records import RecordStore
from storage.submissions import SubmissionStore
from storage.tokens import TokenStore


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Store:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], int],
        stewards: frozenset[bytes] = frozenset(),
        quarantine_max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.db = db
        self.clock = clock
        # Membership state, kept in step with the members table by the record store.
        self.trust = Trust(stewards)
        self.records = RecordStore(db, clock, self.trust, quarantine_max_bytes)
        # Filtered reads of current incidents and deployments (pages, stats, coverage).
        self.queries = RecordQueries(db)
        # The map's points, clusters, incident cells and coverage.
        self.map = MapData(db, clock)
        self.tokens = TokenStore(db, clock)
        self.feeds = FeedStore(db)
        self.peers = PeerStore(db)
        self.nonces = NonceStore(db)
        self.submissions = SubmissionStore(db, clock)
        # Claims and notes, questions and answers on submissions (the moderators' desk).
        self.desk = DeskStore(db, clock, self.submissions)

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        synchronous: Synchronous = "full",
        clock: Callable[[], int] = wall_clock_ms,
        stewards: frozenset[bytes] = frozenset(),
        quarantine_max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> "Store":
        """Open the database at ``path``. ``stewards`` are the network's roots of trust:
        their membership records decide who is a member, and their retractions apply to
        every origin's records. ``quarantine_max_bytes`` bounds the records held while
        their origin is not a member."""
        db = await Database.open(path, synchronous=synchronous)
        store = cls(db, clock, stewards, quarantine_max_bytes)
        try:
            await store.records.load_trust()
            # Records acknowledged before a stop and not yet indexed are indexed now.
            await store.records.indexer.start()
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        await self.records.indexer.stop(finish=True)
        await self.map.close()
        await self.db.close()
