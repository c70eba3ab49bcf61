"""The node's store: the database and the typed stores over it, opened and closed together."""

import time
from collections.abc import Callable
from pathlib import Path

from storage.database import Database, Synchronous
from storage.records import RecordStore
from storage.tokens import TokenStore


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Store:
    def __init__(
        self, db: Database, clock: Callable[[], int], stewards: frozenset[bytes] = frozenset()
    ) -> None:
        self.db = db
        self.clock = clock
        self.records = RecordStore(db, clock, stewards)
        self.tokens = TokenStore(db, clock)

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        synchronous: Synchronous = "full",
        clock: Callable[[], int] = wall_clock_ms,
        stewards: frozenset[bytes] = frozenset(),
    ) -> "Store":
        """Open the database at ``path``; ``stewards`` are the keys whose retractions
        apply to every origin's records."""
        return cls(await Database.open(path, synchronous=synchronous), clock, stewards)

    async def close(self) -> None:
        await self.db.close()
