"""Comparing vectors in a sync session, and exchanging fork evidence (docs/protocol.md 18).

:func:`compare` runs steps 1 and 2 of a session in sync version 2 (or 1, for
a peer that does not speak 2) and says which feeds differ. In version 2 a feed
both nodes hold to the same seq but with different feed digests holds
different envelopes on each side: :func:`exchange_evidence` walks the feed's
slots with the peer (step ``evidence``), keeps every envelope of the peer's
that this node lacks as fork evidence, and pushes back this node's own, so
that both end up holding both envelopes, the origin flagged on both.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from protocol.envelope import decode_envelope
from protocol.limits import Limits
from protocol.records import SignedRecord, decode_batch, encode_batch
from protocol.sync import (
    BUCKETS,
    EntriesRequest,
    Feed,
    SyncAnswer,
    SyncRequest,
    Want,
    bucket_digests,
    bucket_of,
    decode_entries_answer,
    decode_push_answer,
    decode_sync_answer,
    encode_entries_request,
    encode_sync_request,
    in_buckets,
    restrict,
    vector_digest,
)
from protocol.sync2 import (
    MAX_EVIDENCE_IDS,
    EntriesRequest2,
    EvidenceRequest,
    bucket_digests2,
    decode_entries_answer2,
    encode_entries_request2,
    encode_evidence_request,
    encode_sync_request2,
    vector_digest2,
)
from storage.classify import IngestResult, Outcome
from storage.store import Store

_T = TypeVar("_T")
# The most forked feeds one session walks; the rest wait for the next session.
MAX_FORKED_FEEDS = 8


class Ask(Protocol):
    """Sends a request on a route and decodes the peer's answer."""

    async def __call__(self, route: str, body: bytes, decode: Callable[[bytes], _T]) -> _T: ...


class Unexpected(Exception):
    """The peer answered what an honest peer never answers."""


@dataclass(frozen=True, slots=True)
class Compared:
    """Steps 1 and 2: the audiences shared, the buckets that differ, both sides' seqs in
    them, and (version 2) the feeds held to the same seq with different digests."""

    audiences: tuple[str, ...]
    buckets: tuple[int, ...]
    ours: dict[Feed, int]
    theirs: dict[Feed, int]
    forked: list[tuple[Feed, int]] = field(default_factory=list)


def _differing(asked: tuple[str, ...], answer: SyncAnswer, mine: list[bytes]) -> tuple[int, ...]:
    if not set(answer.audiences) <= set(asked):
        raise Unexpected("the peer answered for audiences that were not asked for")
    return tuple(i for i in range(BUCKETS) if mine[i] != answer.buckets[i])


def _check_entries(
    feeds: Sequence[Feed], audiences: tuple[str, ...], buckets: tuple[int, ...]
) -> None:
    for origin, audience in feeds:
        if audience not in audiences or bucket_of(origin) not in buckets:
            raise Unexpected("the peer sent vector entries that were not asked for")


async def compare(
    store: Store, ask: Ask, audiences: tuple[str, ...], version: int
) -> Compared | None:
    """Steps 1 and 2 in sync ``version``; None when the two vectors are equal."""
    if version == 1:
        return await _compare1(store, ask, audiences)
    ours = await store.feeds.vector2(audiences)
    request = encode_sync_request2(SyncRequest(audiences, vector_digest2(ours)))
    answer = await ask("sync", request, decode_sync_answer)
    if answer.in_sync:
        return None
    ours = restrict(ours, answer.audiences)
    differing = _differing(audiences, answer, bucket_digests2(ours))
    ours = in_buckets(ours, differing)
    request = encode_entries_request2(EntriesRequest2(answer.audiences, differing, ours))
    theirs = await ask("sync", request, decode_entries_answer2)
    _check_entries(list(theirs), answer.audiences, differing)
    forked = [
        (feed, seq)
        for feed, (seq, digest) in sorted(theirs.items())
        if feed in ours and ours[feed][0] == seq and ours[feed][1] != digest
    ]
    return Compared(
        answer.audiences,
        differing,
        {feed: entry[0] for feed, entry in ours.items()},
        {feed: entry[0] for feed, entry in theirs.items()},
        forked,
    )


async def _compare1(store: Store, ask: Ask, audiences: tuple[str, ...]) -> Compared | None:
    ours = await store.feeds.vector(audiences)
    request = encode_sync_request(SyncRequest(audiences, vector_digest(ours)))
    answer = await ask("sync", request, decode_sync_answer)
    if answer.in_sync:
        return None
    ours = restrict(ours, answer.audiences)
    differing = _differing(audiences, answer, bucket_digests(ours))
    ours = in_buckets(ours, differing)
    request = encode_entries_request(EntriesRequest(answer.audiences, differing, ours))
    theirs = (await ask("sync", request, decode_entries_answer)).entries
    _check_entries(list(theirs), answer.audiences, differing)
    return Compared(answer.audiences, differing, ours, theirs)


Receive = Callable[[Sequence[SignedRecord]], Awaitable[list[IngestResult]]]
_EVIDENCE_OUTCOMES = frozenset({Outcome.DUPLICATE, Outcome.FORK})


async def exchange_evidence(
    store: Store,
    ask: Ask,
    receive: Receive,
    forked: Sequence[tuple[Feed, int]],
    *,
    limits: Limits,
    push: bool,
) -> int:
    """Walk each forked feed's slots with the peer; the envelopes taken and pushed."""
    page = max(1, min(MAX_EVIDENCE_IDS, limits.max_batch_records // 2))
    taken = pushed = 0
    for feed, seq in forked[:MAX_FORKED_FEEDS]:
        for after in range(0, seq, page):
            ids = await store.feeds.slot_ids(feed, after, min(after + page, seq))
            if not ids:
                break
            request = encode_evidence_request(EvidenceRequest(*feed, after, tuple(ids)))
            batch = await ask("sync", request, lambda data: decode_batch(data, limits))
            slots = _evidence_slots(batch, feed, after, after + len(ids))
            gives = await _own_evidence(store, feed, after, ids, slots) if push else []
            results = await receive(batch)
            if any(r.outcome not in _EVIDENCE_OUTCOMES for r in results):
                raise Unexpected("the peer sent evidence that is not a fork")
            taken += sum(1 for r in results if r.outcome is Outcome.FORK)
            pushed += await _push_all(ask, gives, limits)
    return taken + pushed


def _evidence_slots(batch: Sequence[SignedRecord], feed: Feed, after: int, upto: int) -> set[int]:
    """The slots the peer's evidence is for; anything outside the asked range is wrong."""
    slots = set()
    for record in batch:
        env = decode_envelope(record.envelope_bytes)
        if (env.origin, env.audience) != feed or not after < env.seq <= upto:
            raise Unexpected("the peer sent evidence that was not asked for")
        slots.add(env.seq)
    return slots


async def _own_evidence(
    store: Store, feed: Feed, after: int, ids: list[bytes], slots: set[int]
) -> list[SignedRecord]:
    """This node's envelopes of ``slots`` and its fork evidence in the range, no bodies."""
    wants = [Want(*feed, seq - 1, seq) for seq in sorted(slots)]
    stored = await store.feeds.read(wants, max_records=len(wants), max_bytes=1 << 30)
    evidence = await store.feeds.evidence(feed, after, ids)
    return [SignedRecord(r.envelope_bytes, r.signature, None) for r in [*stored, *evidence]]


async def _push_all(ask: Ask, records: list[SignedRecord], limits: Limits) -> int:
    step = limits.max_batch_records
    for start in range(0, len(records), step):
        part = records[start : start + step]
        results = await ask("push", encode_batch(part), decode_push_answer)
        if len(results) != len(part):
            raise Unexpected("the peer's push answer does not match the batch")
    return len(records)
