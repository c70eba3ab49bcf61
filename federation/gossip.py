"""Scheduling sync (docs/protocol.md section 20): eager push, anti-entropy rounds, backoff.

- **Eager push**: records this node publishes, and records a peer pushed that
  were new here, are pushed at once to ``fanout`` peers chosen at random among
  those that may hold them (never back to the peer they came from). A record
  thus spreads in a few rounds; a peer that lacks earlier records of the feed
  answers ``seq-gap``, and a full session with it follows.
- **Anti-entropy**: every ``interval_s`` (with jitter) a session runs with a
  peer chosen at random, weighted toward the least recently synced. It repairs
  whatever push missed, so a node that was offline always catches up.
- **Backoff**: a failing peer waits ``min(max_backoff, 2^failures)`` seconds,
  times a random factor in [0.5, 1], or longer if it asked with
  ``Retry-After``. At most one session per peer is in flight. An error answer
  the peer did not sign (``federation.transport.UnattributedAnswer``) is no
  failure of the peer's: it is noted as the peer's last error, the peer keeps
  its count of failures and is not backed off; only its weight in the choice
  of a round's peer falls, as a failure's would, until a session succeeds.
"""

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from federation.sync import Misbehaved, PeerError, PeerRef, SessionReport, SyncClient
from federation.tasks import TaskOwner
from federation.transport import UnattributedAnswer
from protocol.envelope import decode_envelope
from protocol.keys import key_text
from protocol.records import SignedRecord
from storage.peers import Peer
from storage.store import Store

log = structlog.get_logger("banscan.federation")

# The most pushes of one batch of new records, each to ``fanout`` more peers, while
# pushes still find peers that lack them (rumor mongering with feedback).
PUSH_ROUNDS = 4


@dataclass
class PeerStats:
    """Counters for one peer since the node started (for status and metrics)."""

    sessions: int = 0
    failures: int = 0
    pushes: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    records_pulled: int = 0
    records_pushed: int = 0
    last_round_trips: int = 0


class Gossip:
    def __init__(
        self,
        client: SyncClient,
        *,
        fanout: int,
        interval_s: float,
        max_backoff_s: float,
        clock_ms: Callable[[], int],
        tasks: TaskOwner,
        rng: random.Random | None = None,
        on_pulled: Callable[[Sequence[SignedRecord]], Awaitable[None]] | None = None,
    ) -> None:
        self.client = client
        self.on_pulled = on_pulled or _nothing
        self.fanout = fanout
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self.clock_ms = clock_ms
        self.rng = rng or random.Random()  # noqa: S311 - peer choice, not secrets
        self.stats: dict[bytes, PeerStats] = defaultdict(PeerStats)
        self._locks: dict[bytes, asyncio.Lock] = defaultdict(asyncio.Lock)
        # Error answers each peer did not sign, since its last good session: they cost it
        # no backoff, only weight in the choice of a round's peer (see :meth:`choose`).
        self._unattributed: dict[bytes, int] = defaultdict(int)
        self._outbox: asyncio.Queue[tuple[list[SignedRecord], bytes | None]] = asyncio.Queue()
        self._wake = asyncio.Event()
        # Set once the sync with every peer at start is done: caches a node warms as it
        # starts wait for it, so as not to slow a new node's first pull (node.state).
        self.synced_at_start = asyncio.Event()
        self.tasks = tasks

    @property
    def store(self) -> Store:
        return self.client.store

    # -- eager push ---------------------------------------------------------

    def published(self, records: Sequence[SignedRecord], source: bytes | None = None) -> None:
        """Queue ``records`` for eager push to ``fanout`` peers other than ``source``."""
        if records:
            self._outbox.put_nowait((list(records), source))

    async def run_pusher(self) -> None:
        while True:
            records, source = await self._outbox.get()
            try:
                # Feedback: push to more peers while the last push still found some
                # that lacked the records, at most PUSH_ROUNDS times.
                tried: set[bytes] = set()
                for _ in range(PUSH_ROUNDS):
                    if not await self.push_now(records, source, tried):
                        break
            except Exception:
                log.exception("eager push failed")

    async def push_now(
        self,
        records: Sequence[SignedRecord],
        source: bytes | None,
        tried: set[bytes] | None = None,
    ) -> bool:
        """Push ``records`` to ``fanout`` peers that may hold them, other than ``source``
        and those in ``tried`` (which grows). True when some peer lacked some of them or
        could not be reached: the news may still be spreading, and pushing on to more
        peers is worth it."""
        if self.client.is_public():
            return False  # only members push
        tried = tried if tried is not None else set()
        # Grouped by audience, and by whether this node signed them: its own records may
        # also go to peers of audiences it cannot receive itself.
        own = self.client.service.own_key
        groups: dict[tuple[str, bool], list[SignedRecord]] = defaultdict(list)
        for record in records:
            env = decode_envelope(record.envelope_bytes)
            groups[(env.audience, env.origin == own)].append(record)
        peers = [p for p in await self.eligible() if p.key != source and p.key not in tried]
        jobs = []
        for (audience, mine), batch in groups.items():
            able = [
                p
                for p in peers
                if audience in self.client.shared_audiences(p.key)
                or (mine and audience in self.client.own_audiences_for(p.key))
            ]
            for peer in self.rng.sample(able, min(self.fanout, len(able))):
                tried.add(peer.key)
                jobs.append(self._push_to(peer, batch))
        return any(await asyncio.gather(*jobs))

    async def _push_to(self, peer: Peer, records: Sequence[SignedRecord]) -> bool:
        """Push to one peer; True when it lacked some of the records, or could not be
        reached (so whether the news is still spreading is unknown)."""
        ref = PeerRef(peer.key, peer.url)
        try:
            results = await self.client.push(ref, records)
        except PeerError as exc:
            await self._failed(peer, exc)
            return True
        stats = self.stats[peer.key]
        stats.pushes += 1
        stats.records_pushed += len(records)
        if any(r.code == "seq-gap" for r in results):
            # The peer lacks earlier records of the feed: a full session fills the gap.
            self._spawn_session(peer)
        return any(r.outcome in ("accepted", "quarantined") or r.code == "seq-gap" for r in results)

    # -- anti-entropy -------------------------------------------------------

    def wake(self) -> None:
        """Run an anti-entropy round now instead of at the end of the interval."""
        self._wake.set()

    async def run_rounds(self) -> None:
        """Sync with every known peer once at start, then one peer per interval."""
        try:
            for peer in await self.eligible():
                try:
                    await self.sync_with(peer)
                except Exception:
                    log.exception("sync at start failed")
        finally:
            self.synced_at_start.set()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), self.interval_s * self.rng.uniform(0.8, 1.2)
                )
            self._wake.clear()
            try:
                # Membership decided from the CLI (another process) takes effect here.
                await self.store.records.refresh_trust()
                await self.round()
            except Exception:
                log.exception("sync round failed")

    async def round(self) -> SessionReport | None:
        """One anti-entropy round: a session with one peer chosen at random."""
        peer = await self.choose()
        return await self.sync_with(peer) if peer is not None else None

    async def eligible(self) -> list[Peer]:
        """Peers not in backoff, other than this node."""
        now = self.clock_ms()
        own = self.client.service.own_key
        return [
            p
            for p in await self.store.peers.all()
            if p.key != own and (p.backoff_until_ms is None or p.backoff_until_ms <= now)
        ]

    async def choose(self) -> Peer | None:
        """A peer at random, weighted toward the least recently synced."""
        peers = await self.eligible()
        if not peers:
            return None
        now = self.clock_ms()
        # Seconds since the last success (or since the peer was added), less for a
        # peer that keeps failing, or whose answers keep coming unsigned (a node behind
        # a proxy that answers 502 for it), so a broken peer does not crowd out healthy ones.
        weights = [
            (1.0 + (now - (p.last_success_ms or p.added_ms)) / 1000)
            / (1 + p.failures + self._unattributed[p.key])
            for p in peers
        ]
        return self.rng.choices(peers, weights)[0]

    async def sync_with(self, peer: Peer) -> SessionReport | None:
        """A session with ``peer``, unless one is already running; None then or on failure."""
        lock = self._locks[peer.key]
        if lock.locked():
            return None
        async with lock:
            was_public = self.client.is_public()
            reports = []
            # The session's batches are indexed once it ends (storage.indexer).
            with self.store.records.indexer.pulling():
                try:
                    reports.append(await self.client.session(PeerRef(peer.key, peer.url)))
                    if was_public and not self.client.is_public():
                        # This node just learnt it is a member: sync what members may hold.
                        reports.append(await self.client.session(PeerRef(peer.key, peer.url)))
                except PeerError as exc:
                    if exc.report is not None:
                        self._count(exc.report, completed=False)
                        # What was stored before the failure still counts: membership and
                        # node records among it take effect now, not at the next session.
                        if exc.report.accepted:
                            await self.on_pulled(exc.report.accepted)
                    await self._failed(peer, exc)
                    return None
                finally:
                    for report in reports:
                        self._count(report)
            await self.store.peers.succeeded(peer.key, self.clock_ms())
            self._unattributed.pop(peer.key, None)
            for report in reports:
                if report.accepted:
                    await self.on_pulled(report.accepted)
                if report.pulled or report.pushed:
                    log.info(
                        "synced",
                        peer=key_text(peer.key),
                        pulled=report.pulled,
                        pushed=report.pushed,
                        round_trips=report.round_trips,
                    )
            return reports[-1]

    def _count(self, report: SessionReport, *, completed: bool = True) -> None:
        stats = self.stats[report.peer]
        stats.sessions += completed
        stats.bytes_sent += report.bytes_sent
        stats.bytes_received += report.bytes_received
        stats.records_pulled += report.pulled
        stats.records_pushed += report.pushed
        stats.last_round_trips = report.round_trips

    async def penalize(self, key: bytes, detail: str) -> None:
        """A peer sent this node something an honest peer never sends: back it off."""
        peer = await self.store.peers.get(key)
        if peer is None:
            log.warning("bad request from a member that is not a peer", peer=key_text(key))
            return
        await self._failed(peer, Misbehaved(detail))

    async def _failed(self, peer: Peer, exc: PeerError) -> None:
        now = self.clock_ms()
        if isinstance(exc, UnattributedAnswer):
            # Anyone on the path may have sent it: no failure of the peer's, no backoff.
            self._unattributed[peer.key] += 1
            await self.store.peers.interrupted(peer.key, exc.detail, now)
            log.warning(
                "peer answer not signed by the peer",
                peer=key_text(peer.key),
                error=exc.detail[:300],
            )
            return
        current = await self.store.peers.get(peer.key)
        failures = (current.failures if current else peer.failures) + 1
        delay = min(self.max_backoff_s, 2.0**failures) * self.rng.uniform(0.5, 1.0)
        if exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, self.max_backoff_s))
        self.stats[peer.key].failures += 1
        await self.store.peers.failed(peer.key, exc.detail, now, now + int(delay * 1000))
        log.warning(
            "peer failed",
            peer=key_text(peer.key),
            error=exc.detail[:300],
            kind=type(exc).__name__,
            backoff_s=round(delay, 1),
        )

    def _spawn_session(self, peer: Peer) -> None:
        """A session with ``peer`` in the background, owned by :attr:`tasks`; none when
        one the background started is still running (``sync_with`` skips a busy peer)."""
        name = f"gossip-session {key_text(peer.key)}"
        if not self.tasks.running(name):
            self.tasks.start(name, self.sync_with(peer))


async def _nothing(records: Sequence[SignedRecord]) -> None:
    return None
