"""Sync sessions (docs/protocol.md section 18): plain code over any transport.

:class:`SyncClient` runs a session against one peer, and
:class:`~federation.service.SyncService` answers a peer's requests. Both talk
through a :class:`Transport`: HTTP with RFC 9421 signatures in a node
(:mod:`federation.transport`), or direct calls in memory
(:class:`LocalTransport`) for tests and the dissemination benchmark.

A session, asked by node A of peer B:

1. ``sync`` step ``digest``: A sends the audiences it wants to compare and the
   digest of its vector over them. B answers ``in_sync`` (one round trip, the
   usual case) or the audiences it actually shares with A and its per-bucket
   digests.
2. ``sync`` step ``entries``: A sends its vector entries in the buckets that
   differ; B answers with its own entries in those buckets. A stores B's
   entries as its checkpoint for B.
3. ``records`` (pull): A asks for the ranges it lacks, in bounded batches,
   and stores each batch in one transaction.
4. ``push``: A sends the ranges B lacks, in bounded batches.
5. ``sync`` step ``evidence`` (version 2): for feeds both hold to the same seq
   with different feed digests, A and B exchange the envelopes that differ,
   kept as fork evidence (:mod:`federation.evidence`).

Steps 1 and 2 run in sync version 2 (:mod:`protocol.sync2`), or in version 1
with a peer that refused version 2.

Every step is idempotent and every stored batch is final, so a session
interrupted anywhere resumes where it stopped: the next one compares vectors
again. A node that is not a member syncs through the ``public/`` routes,
which need no signature, serve only the ``public`` audience and take no push.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import structlog

from federation.evidence import Ask, Compared, Unexpected, compare, exchange_evidence
from federation.service import SyncService, bad_results
from protocol.envelope import AUDIENCES, decode_envelope
from protocol.errors import BanscanError, ProtocolError
from protocol.keys import key_text
from protocol.records import SignedRecord, decode_batch, encode_batch
from protocol.sync import (
    Feed,
    PullRequest,
    PushResult,
    Want,
    decode_push_answer,
    encode_pull_request,
)
from storage.classify import Outcome
from storage.store import Store

log = structlog.get_logger("banscan.federation")

# Push outcomes of records the peer holds without counting them in its vector: quarantined
# now, or already waiting in its quarantine (a duplicate of a record past its vector).
_HELD = frozenset({Outcome.QUARANTINED.value, Outcome.DUPLICATE.value})
# How long a peer that refused sync version 2 is spoken to in version 1 before asking again.
_RETRY_VERSION_2 = 3600.0


class PeerError(BanscanError):
    """A session with a peer failed: unreachable, refused, too slow, or misbehaving.

    ``peer_status`` is the status the peer answered with, when it answered. The
    ``detail`` may quote the HTTP client's own text, so no client is told it.
    """

    status = 502
    code = "peer-error"
    public_detail = "a peer this node asked did not answer as it should"

    def __init__(
        self, detail: str, *, peer_status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(detail)
        self.peer_status = peer_status
        self.retry_after = retry_after
        # The session's report up to the failure, when a session failed.
        self.report: SessionReport | None = None


class Misbehaved(PeerError):
    """The peer sent something an honest peer never sends."""


@dataclass(frozen=True, slots=True)
class PeerRef:
    key: bytes
    url: str


class Transport(Protocol):
    async def request(self, peer: PeerRef, route: str, body: bytes) -> bytes:
        """POST ``body`` to the peer's ``/federation/v1/<route>``; the answer's body.

        Raises :class:`PeerError` for anything but a good answer.
        """


_T = TypeVar("_T")
_Call = Callable[[str, bytes], Awaitable[bytes]]


@dataclass
class SessionReport:
    """What one session did; ``round_trips`` and bytes count request and answer bodies."""

    peer: bytes
    in_sync: bool = False
    public: bool = False
    round_trips: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    pulled: int = 0
    pushed: int = 0
    evidence: int = 0  # fork evidence envelopes taken from the peer and pushed to it
    accepted: list[SignedRecord] = field(default_factory=list)


class SyncClient:
    """Runs sessions with peers over a transport, for this node's store."""

    def __init__(self, service: SyncService, transport: Transport) -> None:
        self.service = service
        self.transport = transport
        # Peers that refused sync version 2, and when (time.monotonic()).
        self._version_one: dict[bytes, float] = {}
        # Per peer, how far each feed's pushed records wait in its quarantine: not
        # pushed again (its vector counts only what it stores).
        self._parked: dict[bytes, dict[Feed, int]] = {}

    @property
    def store(self) -> Store:
        return self.service.store

    def shared_audiences(self, peer: bytes) -> tuple[str, ...]:
        """The audiences both this node and ``peer`` may hold, as this node sees it."""
        trust = self.store.trust
        both = trust.audiences_for(self.service.own_key) & trust.audiences_for(peer)
        return tuple(a for a in AUDIENCES if a in both)

    def own_audiences_for(self, peer: bytes) -> tuple[str, ...]:
        """Audiences of this node's own feeds that ``peer`` may hold but this node may not
        receive (a chapter's ``coordinators`` records): pushed, never compared."""
        trust = self.store.trust
        extra = trust.audiences_for(peer) - trust.audiences_for(self.service.own_key)
        return tuple(a for a in AUDIENCES if a in extra)

    def is_public(self) -> bool:
        """A node that is not a member syncs the public audience, unsigned."""
        return not self.store.trust.is_member(self.service.own_key)

    async def session(self, peer: PeerRef) -> SessionReport:
        """One session with ``peer``; a :class:`PeerError` carries the report so far."""
        report = SessionReport(peer.key, public=self.is_public())
        try:
            return await self._session(peer, report)
        except PeerError as exc:
            exc.report = report
            raise

    async def _session(self, peer: PeerRef, report: SessionReport) -> SessionReport:
        audiences = ("public",) if report.public else self.shared_audiences(peer.key)
        prefix = "public/" if report.public else ""

        async def call(route: str, body: bytes) -> bytes:
            report.round_trips += 1
            report.bytes_sent += len(body)
            answer = await self.transport.request(peer, prefix + route, body)
            report.bytes_received += len(answer)
            return answer

        async def ask(route: str, body: bytes, decode: Callable[[bytes], _T]) -> _T:
            return _decoded(decode, await call(route, body))

        try:
            compared = await self._compare(peer, ask, audiences)
            if compared is None:
                report.in_sync = True
                return report
            audiences, differing = compared.audiences, compared.buckets
            ours, theirs = compared.ours, compared.theirs
            await self.store.peers.advertised(peer.key, audiences, differing, theirs)
        except Unexpected as exc:
            raise Misbehaved(str(exc)) from exc

        # Records this node's quarantine holds crossed the wire once: not again.
        behind = {
            feed: ours.get(feed, 0) for feed, seq in theirs.items() if seq > ours.get(feed, 0)
        }
        held = await self.store.feeds.quarantined_heads(behind)
        await self._pull(call, _wants(theirs, {**ours, **held}, self.store.trust.stewards), report)
        if not report.public:
            parked = self._parked.setdefault(peer.key, {})
            gives = [
                Want(*feed, after, seq)
                for feed, seq in sorted(ours.items())
                if seq > (after := max(theirs.get(feed, 0), parked.get(feed, 0)))
            ]
            await self._push(call, gives, report, parked)
            await self._push_own(call, peer, report)
        if compared.forked:
            try:
                report.evidence += await exchange_evidence(
                    self.store,
                    ask,
                    self.service.receive,
                    compared.forked,
                    limits=self.service.verifier.limits,
                    push=not report.public,
                )
            except Unexpected as exc:
                raise Misbehaved(str(exc)) from exc
        return report

    async def _compare(
        self, peer: PeerRef, ask: Ask, audiences: tuple[str, ...]
    ) -> Compared | None:
        """Steps 1 and 2 in sync version 2, or 1 with a peer that refused version 2 (an
        older node answers 400 to a field it does not know) in the last hour."""
        now = time.monotonic()
        refused = self._version_one.get(peer.key)
        if refused is not None and now - refused < _RETRY_VERSION_2:
            return await compare(self.store, ask, audiences, 1)
        try:
            return await compare(self.store, ask, audiences, 2)
        except PeerError as exc:
            if exc.peer_status != 400:
                raise
        log.info("peer speaks sync version 1 only", peer=key_text(peer.key))
        self._version_one[peer.key] = now
        return await compare(self.store, ask, audiences, 1)

    async def _push_own(self, call: _Call, peer: PeerRef, report: SessionReport) -> None:
        """Push this node's own feeds of audiences it cannot compare with the peer, from
        what the peer is known to hold; remember what it took."""
        own = self.service.own_key
        heads = await self.store.feeds.heads(own)
        for audience in self.own_audiences_for(peer.key):
            held = heads.get(audience, 0)
            known = await self.store.peers.known_seq(peer.key, (own, audience))
            if held <= known:
                continue
            await self._push(call, [Want(own, audience, known, held)], report)
            await self.store.peers.note(peer.key, (own, audience), held)

    async def push(self, peer: PeerRef, records: Sequence[SignedRecord]) -> list[PushResult]:
        """Push ``records`` (eager push of new records); the peer's result for each."""
        body = encode_batch(list(records))
        return _decoded(decode_push_answer, await self.transport.request(peer, "push", body))

    async def _pull(self, call: _Call, wants: list[Want], report: SessionReport) -> None:
        """Pull ``wants`` in bounded batches, each stored in one transaction. The next
        batch is asked for as soon as this one is checked, while this one is stored."""
        limits = self.service.verifier.limits

        async def fetch(wants: list[Want]) -> list[SignedRecord]:
            body = encode_pull_request(PullRequest(tuple(wants), limits.max_batch_records))
            return _decoded(lambda data: decode_batch(data, limits), await call("records", body))

        coming = asyncio.ensure_future(fetch(wants)) if wants else None
        try:
            while coming is not None:
                batch = await coming
                coming = None
                if not batch:
                    raise Misbehaved("the peer advertised records it does not send")
                wants = _advance(wants, batch)
                if wants:
                    coming = asyncio.ensure_future(fetch(wants))
                results = await self.service.receive(batch)
                report.pulled += len(batch)
                report.accepted.extend(
                    record
                    for record, result in zip(batch, results, strict=True)
                    if result.outcome is Outcome.ACCEPTED
                )
                # A gap is never the peer's: each range starts where this node's feed or
                # quarantine ended, unless its quarantine dropped records meanwhile.
                bad = [r for r in bad_results(results) if r.code != "seq-gap"]
                if bad:
                    raise Misbehaved(
                        f"the peer sent {len(bad)} records this node refused "
                        f"({', '.join(sorted({str(r.code) for r in bad}))})"
                    )
        finally:
            if coming is not None:
                coming.cancel()
                with contextlib.suppress(asyncio.CancelledError, PeerError):
                    await coming

    async def _push(
        self,
        call: _Call,
        gives: list[Want],
        report: SessionReport,
        parked: dict[Feed, int] | None = None,
    ) -> None:
        """Push ``gives`` in bounded batches; note in ``parked`` what the peer quarantined."""
        limits = self.service.verifier.limits
        while gives:
            batch = await self.store.feeds.read(
                gives, max_records=limits.max_batch_records, max_bytes=limits.max_batch_bytes - 1024
            )
            if not batch:
                return
            results = _decoded(decode_push_answer, await call("push", encode_batch(batch)))
            if len(results) != len(batch):
                raise Misbehaved("the peer's push answer does not match the batch")
            report.pushed += len(batch)
            sent: dict[Feed, int] = {}
            for record, result in zip(batch, results, strict=True):
                env = decode_envelope(record.envelope_bytes)
                sent[(env.origin, env.audience)] = env.seq
                if parked is not None and result.outcome in _HELD:
                    parked[(env.origin, env.audience)] = env.seq
            gives = [
                Want(w.origin, w.audience, sent.get((w.origin, w.audience), w.after), w.upto)
                for w in gives
                if sent.get((w.origin, w.audience), w.after) < w.upto
            ]


def _wants(
    theirs: Mapping[Feed, int], held: Mapping[Feed, int], stewards: Collection[bytes]
) -> list[Want]:
    """The ranges to pull: past what this node holds, stored or quarantined. Stewards'
    feeds first: their membership decisions then apply to the records that follow, which
    need no quarantine on the way."""
    return [
        Want(*feed, held.get(feed, 0), seq)
        for feed, seq in sorted(
            theirs.items(), key=lambda item: (item[0][0] not in stewards, item[0])
        )
        if seq > held.get(feed, 0)
    ]


def _advance(wants: list[Want], batch: Sequence[SignedRecord]) -> list[Want]:
    """The wants left once ``batch`` arrived; a record not asked for, or out of order, is
    the peer misbehaving."""
    left = {(w.origin, w.audience): w for w in wants}
    got: dict[Feed, int] = {}
    for record in batch:
        env = _decoded(decode_envelope, record.envelope_bytes)
        feed = (env.origin, env.audience)
        want = left.get(feed)
        if want is None or env.seq != got.get(feed, want.after) + 1 or env.seq > want.upto:
            raise Misbehaved("the peer sent records that were not asked for")
        got[feed] = env.seq
    return [
        Want(w.origin, w.audience, got.get((w.origin, w.audience), w.after), w.upto)
        for w in wants
        if got.get((w.origin, w.audience), w.after) < w.upto
    ]


def _decoded(decode: Callable[[bytes], _T], data: bytes) -> _T:
    """Decode a peer's answer; anything malformed is the peer misbehaving."""
    try:
        return decode(data)
    except ProtocolError as exc:
        raise Misbehaved(f"the peer's answer is malformed: {exc.detail}") from exc


class LocalTransport:
    """Calls other nodes' services directly, as ``requester``: the in-memory network."""

    def __init__(self, requester: bytes, services: dict[bytes, SyncService]) -> None:
        self.requester = requester
        self.services = services
        self.offline: set[bytes] = set()

    async def request(self, peer: PeerRef, route: str, body: bytes) -> bytes:
        service = self.services.get(peer.key)
        if service is None or peer.key in self.offline:
            raise PeerError("peer unreachable")
        try:
            return await service.handle(route, self.requester, body)
        except ProtocolError as exc:
            raise PeerError(f"{exc.code}: {exc.detail}", peer_status=exc.status) from exc
