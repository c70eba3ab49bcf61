"""The running federation of one node: who owns its sessions, loops and HTTP client.

:class:`Federation` mediates; the state lives in the store and in the plain
classes it holds. :meth:`Federation.start` adds the configured peers, lets
backed-off peers try again, announces the node (``federation.announce``),
discovers peers (``federation.discovery``) and starts the background work on
the node's :class:`~federation.tasks.TaskOwner`:

- ``federation-rounds``: anti-entropy rounds (``federation.gossip``);
- ``federation-push``: eager push of new records;
- ``federation-discovery``: looking for peers every sync interval;
- ``federation-own-feeds``: pushing records another process published
  (``federation.own_feeds``).

The task owner stops them; :meth:`Federation.close` then closes the HTTP
client they used.
"""

import asyncio
from collections.abc import Sequence

import aiohttp
import structlog

from federation.announce import Publish, announce
from federation.discovery import discover, run_discovery
from federation.gossip import Gossip
from federation.httpsig import (
    REPLAY_DETAIL,
    Authenticator,
    MessageSigner,
    NotMember,
    Replay,
    SignedRequest,
)
from federation.own_feeds import OwnFeeds
from federation.service import SyncService
from federation.settings import FederationSettings
from federation.sync import SyncClient
from federation.tasks import TaskOwner
from federation.transport import HttpTransport
from federation.verifier import Verifier
from protocol.envelope import decode_envelope
from protocol.keys import NodeKey
from protocol.records import SignedRecord, VerifiedRecord
from storage.store import Store

log = structlog.get_logger("banscan.federation")


class Federation:
    """Everything a node needs to federate, built once the store is open."""

    def __init__(
        self,
        settings: FederationSettings,
        key: NodeKey,
        store: Store,
        verifier: Verifier,
        *,
        publish: Publish,
        tasks: TaskOwner,
    ) -> None:
        self.settings = settings
        self.key = key
        self.store = store
        self.tasks = tasks
        self._publish = publish
        clock_s = lambda: store.clock() / 1000  # noqa: E731
        self.signer = MessageSigner(key, settings.network_id, clock_s)
        self.authenticator = Authenticator(settings.network_id, store.trust.is_member, clock_s)
        self.service = SyncService(store, verifier, key.public_key, self._received)
        self.session = aiohttp.ClientSession()
        transport = HttpTransport(
            self.session,
            self.signer,
            settings.network_id,
            clock_s,
            timeout_s=settings.timeout_s,
            max_answer_bytes=settings.max_answer_bytes,
        )
        self.client = SyncClient(self.service, transport)
        self.gossip = Gossip(
            self.client,
            fanout=settings.fanout,
            interval_s=settings.sync_interval_s,
            max_backoff_s=settings.max_backoff_s,
            clock_ms=store.clock,
            tasks=tasks,
            on_pulled=self._learn,
        )
        self.own_feeds = OwnFeeds(
            store,
            key.public_key,
            self.gossip,
            max_batch_bytes=settings.limits.max_batch_bytes,
            learn=self._learn,
        )
        # Peers' requests served at once; beyond, a peer is told to retry later.
        self.slots = asyncio.Semaphore(settings.max_sessions)

    async def start(self) -> None:
        now = self.store.clock()
        for key, url in self.settings.peers:
            await self.store.peers.add(key, url, "config", now)
        # A restart is the operator's way to say "try again now".
        await self.store.peers.retry_all()
        await self.announce()
        await self.discover()
        await self.own_feeds.load()
        own = self.key.public_key
        self.tasks.start("federation-rounds", self.gossip.run_rounds())
        self.tasks.start("federation-push", self.gossip.run_pusher())
        self.tasks.start(
            "federation-discovery",
            run_discovery(self.store, own, self.settings.sync_interval_s),
        )
        self.tasks.start("federation-own-feeds", self.own_feeds.run())

    async def close(self) -> None:
        """Close the HTTP client; the task owner has stopped the tasks using it."""
        await self.session.close()

    async def announce(self) -> None:
        """Publish a ``node`` record when the node's URLs or description changed."""
        announcement = self.settings.announcement
        if announcement is None:
            return
        record = await announce(self.store, self.key.public_key, announcement, self._publish)
        if record is not None:
            log.info("announced", urls=list(announcement.urls))
            self.published_own([record])

    async def discover(self) -> None:
        await discover(self.store, self.key.public_key)

    def published_own(self, records: Sequence[VerifiedRecord]) -> None:
        """Push records this node just published (through the API) at once."""
        self.own_feeds.published(records)

    async def authenticate(self, signed: SignedRequest, body: bytes) -> bytes:
        """The signer's key. A key unknown as a member may have been admitted from the CLI
        (another process) since this node last looked: look again, then decide.

        The nonce is claimed in memory, then in the store, committed before the request
        is answered: a request received before a restart is still a replay after it."""
        try:
            signature = self.authenticator.check_request(signed, body)
        except NotMember:
            await self.store.records.refresh_trust()
            signature = self.authenticator.check_request(signed, body)
        self.authenticator.claim(signature)
        now_s = self.store.clock() // 1000
        nonce, until = signature.nonce, signature.remember_until
        if not await self.store.nonces.claim(signature.keyid, nonce, until, now_s):
            raise Replay(REPLAY_DETAIL)
        return signature.signer

    async def _received(self, records: Sequence[SignedRecord], source: bytes | None) -> None:
        self.gossip.published(records, source)
        await self._learn(records)

    async def _learn(self, records: Sequence[SignedRecord]) -> None:
        """New ``node`` or ``membership`` records may name new peers or members."""
        kinds = {decode_envelope(record.envelope_bytes).kind for record in records}
        if kinds & {"node", "membership"}:
            await self.discover()
        if "membership" in kinds:
            self.gossip.wake()  # what this node and its peers may hold may have changed
