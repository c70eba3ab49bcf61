"""Retention: private parts deleted once their period has ended, without anyone asking.

Every :data:`PURGE_EVERY_MS` the node deletes the private part of every
submission decided more than ``[submissions] retention_days`` ago
(docs/moderators.md). A reader (a backup, a CLI in another process) can keep
the WAL from being checkpointed, so purged bytes may linger there: every
:data:`TICK_MS` the checkpoint is retried until it works. Each tick also lets
the rate limiters (:mod:`node.abuse`) forget the past hour's clients and a
past day's secret, without waiting for the next report.

Time is the node's clock, in milliseconds, so a test moves it instead of
waiting: :meth:`Retention.tick` is one pass, :meth:`Retention.run` repeats it.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import structlog

from node.abuse import RateLimiter
from node.moderation.service import Moderation
from storage.submissions import SubmissionStore

PURGE_EVERY_MS: Final = 3_600_000
TICK_MS: Final = 60_000
ACTOR: Final = "node:retention"
log = structlog.get_logger("banscan.submissions")


class Retention:
    def __init__(
        self,
        moderation: Moderation,
        submissions: SubmissionStore,
        *,
        retention_days: int,
        limiters: Sequence[RateLimiter],
        clock: Callable[[], int],
    ) -> None:
        self.moderation = moderation
        self.submissions = submissions
        self.retention_days = retention_days
        self.limiters = limiters
        self.clock = clock
        self.next_purge_ms: int | None = None  # the first tick purges

    async def tick(self) -> list[str]:
        """Purge if it is time, else retry an owed checkpoint; sweep the limiters.
        The ids of the submissions purged."""
        purged: list[str] = []
        try:
            now = self.clock()
            if self.next_purge_ms is None or now >= self.next_purge_ms:
                self.next_purge_ms = now + PURGE_EVERY_MS
                purged = await self.moderation.purge(now, self.retention_days, actor=ACTOR)
                if purged:
                    log.info("retention purge", count=len(purged))
            elif self.submissions.wal_owed:
                await self.submissions.settle_wal()
            if self.submissions.wal_owed:
                log.warning("purged private parts are still in the WAL; retrying")
        except Exception as exc:  # keep enforcing retention whatever one round met
            log.warning("retention purge failed", error=type(exc).__name__)
        for limiter in self.limiters:
            limiter.sweep()
        return purged

    async def run(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """A tick every :data:`TICK_MS`, until cancelled."""
        while True:
            await self.tick()
            await sleep(TICK_MS / 1000)
