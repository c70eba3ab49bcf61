"""This node's own feeds: pushing what it publishes, whichever process published it.

Records published through the API reach :meth:`OwnFeeds.published` at once.
Records another process published into the same database (``banscan
publish``, ``banscan members``) are noticed by polling the feeds' heads every
:data:`POLL_S` seconds; at most :data:`PUSH_MAX` of them are pushed at once,
and sync carries the rest.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import structlog

from federation.gossip import Gossip
from protocol.records import SignedRecord, VerifiedRecord
from protocol.sync import Want
from storage.store import Store

log = structlog.get_logger("banscan.federation")

POLL_S = 1.0
PUSH_MAX = 500

Learn = Callable[[Sequence[SignedRecord]], Awaitable[None]]


class OwnFeeds:
    """The heads of this node's feeds as far as it has pushed them."""

    def __init__(
        self, store: Store, own_key: bytes, gossip: Gossip, *, max_batch_bytes: int, learn: Learn
    ) -> None:
        self.store = store
        self.own_key = own_key
        self.gossip = gossip
        self.max_batch_bytes = max_batch_bytes
        self.learn = learn
        self._heads: dict[str, int] = {}

    async def load(self) -> None:
        """Take the stored heads as pushed (sync carries older records)."""
        self._heads = await self.store.feeds.heads(self.own_key)

    def published(self, records: Sequence[VerifiedRecord]) -> None:
        """Push records this node just published (through the API) at once."""
        for record in records:
            env = record.envelope
            self._heads[env.audience] = max(self._heads.get(env.audience, 0), env.seq)
        self.gossip.published(
            [SignedRecord(r.envelope_bytes, r.signature, r.body) for r in records]
        )

    async def push_new(self) -> int:
        """Push this node's records that another process published; how many."""
        heads = await self.store.feeds.heads(self.own_key)
        wants = [
            Want(self.own_key, audience, max(known, seq - PUSH_MAX), seq)
            for audience, seq in heads.items()
            if seq > (known := self._heads.get(audience, 0))
        ]
        self._heads = heads
        if not wants:
            return 0
        # Membership decisions among them must count here before they are pushed.
        await self.store.records.refresh_trust()
        fresh = await self.store.feeds.read(
            wants, max_records=PUSH_MAX, max_bytes=self.max_batch_bytes
        )
        self.gossip.published(fresh)
        await self.learn(fresh)
        return len(fresh)

    async def run(self) -> None:
        """Poll the heads every :data:`POLL_S` seconds, until cancelled."""
        while True:
            await asyncio.sleep(POLL_S)
            try:
                await self.push_new()
            except Exception:
                log.exception("pushing this node's new records failed")
