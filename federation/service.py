"""The answering side of sync (docs/protocol.md section 18): what a node tells its peers.

:class:`SyncService` answers a peer's ``sync``, ``records`` and ``push``
requests over its store, each restricted to the audiences the requester may
receive (docs/protocol.md section 19); a request on a ``public/`` route is
answered as to anyone, with the ``public`` audience only. The asking side,
and the session's steps, are ``federation.sync``'s.
"""

from collections.abc import Awaitable, Callable, Sequence

import structlog

from federation.verifier import Verifier
from protocol.errors import AudienceNotAllowedError
from protocol.keys import key_text
from protocol.records import SignedRecord, decode_batch, encode_batch
from protocol.sync import (
    EntriesAnswer,
    PushResult,
    SyncAnswer,
    SyncRequest,
    bucket_digests,
    decode_pull_request,
    encode_entries_answer,
    encode_push_answer,
    encode_sync_answer,
    in_buckets,
    vector_digest,
)
from protocol.sync2 import (
    EvidenceRequest,
    bucket_digests2,
    decode_any_sync_step,
    encode_entries_answer2,
    vector_digest2,
)
from storage.classify import IngestResult, Outcome
from storage.ingest import ingest_batch
from storage.store import Store

log = structlog.get_logger("banscan.federation")

# Outcomes of records a peer sent that prove nothing against the peer: the
# record is held, or will be once its origin is admitted.
_FINE = frozenset({Outcome.ACCEPTED, Outcome.DUPLICATE, Outcome.QUARANTINED})
# Refusals that prove nothing against the peer either: it may have taken the record
# before it learnt the key was suspended or revoked (the envelope is kept as a tombstone).
_NOT_ITS_FAULT = frozenset({"origin-suspended", "origin-revoked"})


def bad_results(results: Sequence[IngestResult]) -> list[IngestResult]:
    """Results that show the sender sent what an honest peer never sends."""
    return [r for r in results if r.outcome not in _FINE and r.code not in _NOT_ITS_FAULT]


# Told of records a peer pushed that were new here, and of the peer.
Received = Callable[[Sequence[SignedRecord], bytes | None], Awaitable[None]]


async def _ignore(records: Sequence[SignedRecord], source: bytes | None) -> None:
    return None


class SyncService:
    """Answers peers: vector comparison, pulls and pushes, restricted by audience."""

    def __init__(
        self, store: Store, verifier: Verifier, own_key: bytes, received: Received = _ignore
    ) -> None:
        self.store = store
        self.verifier = verifier
        self.own_key = own_key
        self.received = received

    async def handle(self, route: str, requester: bytes | None, body: bytes) -> bytes:
        """Answer one request; ``requester`` is the verified signer, None for public routes."""
        if route.startswith("public/"):
            requester = None
            route = route.removeprefix("public/")
        elif requester is None:
            raise AudienceNotAllowedError(f"/federation/v1/{route} needs a signed request")
        if route == "sync":
            return await self.sync(requester, body)
        if route == "records":
            return await self.records(requester, body)
        if route == "push" and requester is not None:
            return await self.push(requester, body)
        raise ValueError(f"no federation route {route!r}")

    def audiences_for(self, requester: bytes | None) -> frozenset[str]:
        if requester is None:
            return frozenset({"public"})
        return self.store.trust.audiences_for(requester)

    async def sync(self, requester: bytes | None, body: bytes) -> bytes:
        """Step ``digest`` or ``entries`` of either version, or version 2's ``evidence``."""
        version, step = decode_any_sync_step(body)
        if isinstance(step, EvidenceRequest):
            return await self.evidence(requester, step)
        shared = tuple(a for a in step.audiences if a in self.audiences_for(requester))
        if not shared:
            raise AudienceNotAllowedError("none of the audiences asked for may be sent to this key")
        if version == 1:
            ours = await self.store.feeds.vector(shared)
            if isinstance(step, SyncRequest):
                if shared == step.audiences and vector_digest(ours) == step.digest:
                    return encode_sync_answer(SyncAnswer(shared, True))
                return encode_sync_answer(SyncAnswer(shared, False, tuple(bucket_digests(ours))))
            return encode_entries_answer(EntriesAnswer(in_buckets(ours, step.buckets)))
        ours2 = await self.store.feeds.vector2(shared)
        if isinstance(step, SyncRequest):
            if shared == step.audiences and vector_digest2(ours2) == step.digest:
                return encode_sync_answer(SyncAnswer(shared, True))
            return encode_sync_answer(SyncAnswer(shared, False, tuple(bucket_digests2(ours2))))
        return encode_entries_answer2(in_buckets(ours2, step.buckets))

    async def evidence(self, requester: bytes | None, step: EvidenceRequest) -> bytes:
        """The envelopes of a feed's slots that differ from the asker's ids, and fork
        evidence, with no bodies (docs/protocol.md section 17.8)."""
        if step.audience not in self.audiences_for(requester):
            raise AudienceNotAllowedError(
                f"the {step.audience} audience may not be sent to this key"
            )
        found = await self.store.feeds.evidence((step.origin, step.audience), step.after, step.ids)
        return encode_batch(found[: self.verifier.limits.max_batch_records])

    async def records(self, requester: bytes | None, body: bytes) -> bytes:
        limits = self.verifier.limits
        pull = decode_pull_request(body, limits.max_batch_records)
        allowed = self.audiences_for(requester)
        for want in pull.wants:
            if want.audience not in allowed:
                raise AudienceNotAllowedError(
                    f"the {want.audience} audience may not be sent to this key"
                )
        batch = await self.store.feeds.read(
            pull.wants,
            max_records=pull.max_records,
            # Room for the array header and the msgpack framing of each record.
            max_bytes=limits.max_batch_bytes - 1024,
        )
        return encode_batch(batch)

    async def push(self, requester: bytes, body: bytes) -> bytes:
        batch = decode_batch(body, self.verifier.limits)
        results = await self.receive(batch)
        bad = [r for r in bad_results(results) if r.code != "seq-gap"]
        if bad:
            log.warning(
                "push held bad records",
                peer=key_text(requester),
                bad=len(bad),
                codes=sorted({str(r.code) for r in bad}),
            )
        fresh = [
            record
            for record, result in zip(batch, results, strict=True)
            if result.outcome is Outcome.ACCEPTED
        ]
        if fresh:
            await self.received(fresh, requester)
        return encode_push_answer([PushResult(r.id, r.outcome.value, r.code) for r in results])

    async def receive(self, batch: Sequence[SignedRecord]) -> list[IngestResult]:
        """Verify and store records from a peer, refusing audiences this node may not hold.
        Acknowledged once logged; the indexer indexes them (storage.indexer)."""
        return await ingest_batch(
            self.verifier,
            self.store.records,
            batch,
            atomic=False,
            audiences=self.store.trust.audiences_for(self.own_key),
            defer=True,
        )
