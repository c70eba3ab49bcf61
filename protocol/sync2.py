"""Sync messages, version 2: vectors that say which records a feed holds, and fork evidence.

A version 1 vector entry holds only a feed's highest contiguous seq, so two
nodes holding different envelopes for one slot (a fork told to each by pull)
compare equal. A version 2 entry also holds the **feed digest**: a hash chain
over the ids the node holds for the feed, slot by slot, fork evidence included
(docs/protocol.md section 16.1). Two nodes holding the same seq and the same
envelopes have the same digest; when their digests differ at the same seq, an
``evidence`` step finds the slots that differ and both keep both envelopes.

Version 2 messages carry ``"version": 2``; a message without it is version 1
(:mod:`protocol.sync`), which a node still answers, so older nodes still sync.
"""

import hashlib
import struct
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from protocol.errors import LimitError, MalformedError
from protocol.sync import (
    BUCKET_DIGEST_BYTES,
    BUCKETS,
    DIGEST_BYTES,
    MAX_ENTRIES,
    EntriesRequest,
    Feed,
    SyncRequest,
    bucket_of,
    decode_sync_step,
    pack,
    parse_audience,
    parse_audiences,
    parse_bucket_list,
    parse_digest,
    parse_map,
    parse_origin,
    require_keys,
)

VERSION = 2
# The most slot ids one evidence request may carry.
MAX_EVIDENCE_IDS = 4096
ID_BYTES = 32

FEED_DIGEST_START = hashlib.sha256(b"banscan/2 feed\x00").digest()

# (highest contiguous seq, feed digest) of each feed held.
Entry = tuple[int, bytes]
Vector2 = Mapping[Feed, Entry]


def feed_step(previous: bytes, ids: Iterable[bytes]) -> bytes:
    """The feed digest after one more slot, which holds ``ids`` (the stored envelope's id
    and the ids of any fork evidence for the slot)."""
    return hashlib.sha256(previous + b"".join(sorted(ids))).digest()


def feed_digest(slots: Iterable[Collection[bytes]]) -> bytes:
    """The feed digest of slots 1, 2, ... holding the given ids each."""
    digest = FEED_DIGEST_START
    for ids in slots:
        digest = feed_step(digest, ids)
    return digest


def _entry_bytes(origin: bytes, audience: str, entry: Entry) -> bytes:
    return origin + audience.encode() + b"\x00" + struct.pack(">Q", entry[0]) + entry[1]


def vector_digest2(vector: Vector2) -> bytes:
    digest = hashlib.sha256(b"banscan/2 vector\x00")
    for (origin, audience), entry in sorted(vector.items()):
        digest.update(_entry_bytes(origin, audience, entry))
    return digest.digest()


def bucket_digests2(vector: Vector2) -> list[bytes]:
    hashes = [hashlib.sha256(b"banscan/2 bucket\x00") for _ in range(BUCKETS)]
    for (origin, audience), entry in sorted(vector.items()):
        hashes[bucket_of(origin)].update(_entry_bytes(origin, audience, entry))
    return [h.digest()[:BUCKET_DIGEST_BYTES] for h in hashes]


@dataclass(frozen=True, slots=True)
class EntriesRequest2:
    audiences: tuple[str, ...]
    buckets: tuple[int, ...]
    entries: dict[Feed, Entry]


@dataclass(frozen=True, slots=True)
class EvidenceRequest:
    """The asker's stored ids of slots ``after + 1 ...`` of one feed; the answer is a batch
    of the answerer's envelopes (no bodies) for those slots that the ids do not name: its
    stored envelope where it differs, and its fork evidence."""

    origin: bytes
    audience: str
    after: int
    ids: tuple[bytes, ...]


def encode_sync_request2(message: SyncRequest) -> bytes:
    return pack(
        {
            "version": VERSION,
            "step": "digest",
            "audiences": list(message.audiences),
            "digest": message.digest,
        }
    )


def _entries_wire(entries: Mapping[Feed, Entry]) -> list[list[Any]]:
    return [[o, a, seq, digest] for (o, a), (seq, digest) in sorted(entries.items())]


def encode_entries_request2(message: EntriesRequest2) -> bytes:
    return pack(
        {
            "version": VERSION,
            "step": "entries",
            "audiences": list(message.audiences),
            "buckets": list(message.buckets),
            "entries": _entries_wire(message.entries),
        }
    )


def encode_entries_answer2(entries: Mapping[Feed, Entry]) -> bytes:
    return pack({"version": VERSION, "entries": _entries_wire(entries)})


def encode_evidence_request(message: EvidenceRequest) -> bytes:
    return pack(
        {
            "version": VERSION,
            "step": "evidence",
            "origin": message.origin,
            "audience": message.audience,
            "after": message.after,
            "ids": list(message.ids),
        }
    )


SyncStep = SyncRequest | EntriesRequest | EntriesRequest2 | EvidenceRequest


def decode_any_sync_step(data: bytes) -> tuple[int, SyncStep]:
    """A request to ``/federation/v1/sync`` of either version: (version, step)."""
    value = parse_map(data, "sync request")
    if "version" not in value:
        return 1, decode_sync_step(data)
    if value.get("version") != VERSION:
        raise MalformedError(f"this node speaks sync versions 1 and {VERSION}")
    step = value.get("step")
    if step == "digest":
        require_keys(value, {"version", "step", "audiences", "digest"}, "sync request")
        digest = parse_digest(value.get("digest"), DIGEST_BYTES, "digest")
        return VERSION, SyncRequest(parse_audiences(value.get("audiences")), digest)
    if step == "entries":
        require_keys(value, {"version", "step", "audiences", "buckets", "entries"}, "sync request")
        return VERSION, EntriesRequest2(
            parse_audiences(value.get("audiences")),
            parse_bucket_list(value.get("buckets")),
            _entries(value),
        )
    if step == "evidence":
        return VERSION, _evidence_request(value)
    raise MalformedError('a sync request\'s step must be "digest", "entries" or "evidence"')


def _evidence_request(value: Mapping[str, Any]) -> EvidenceRequest:
    require_keys(
        value, {"version", "step", "origin", "audience", "after", "ids"}, "evidence request"
    )
    after, ids = value.get("after"), value.get("ids")
    if type(after) is not int or after < 0:
        raise MalformedError("after must be a non-negative integer")
    if not isinstance(ids, list) or not ids:
        raise MalformedError("ids must be a non-empty list of record ids")
    if len(ids) > MAX_EVIDENCE_IDS:
        raise LimitError(f"{len(ids)} ids; the limit is {MAX_EVIDENCE_IDS}")
    return EvidenceRequest(
        parse_origin(value.get("origin"), "evidence request"),
        parse_audience(value.get("audience")),
        after,
        tuple(parse_digest(i, ID_BYTES, "record id") for i in ids),
    )


def decode_entries_answer2(data: bytes) -> dict[Feed, Entry]:
    value = parse_map(data, "entries answer")
    require_keys(value, {"version", "entries"}, "entries answer")
    if value.get("version") != VERSION:
        raise MalformedError(f"the entries answer must be version {VERSION}")
    return _entries(value)


def _entries(value: Mapping[str, Any]) -> dict[Feed, Entry]:
    entries = value.get("entries")
    if not isinstance(entries, list):
        raise MalformedError("entries must be a list of [origin, audience, seq, digest]")
    if len(entries) > MAX_ENTRIES:
        raise LimitError(f"{len(entries)} vector entries; the limit is {MAX_ENTRIES}")
    parsed: dict[Feed, Entry] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, list) or len(entry) != 4:
            raise MalformedError(f"entry {index} must be [origin, audience, seq, digest]")
        origin, audience, seq, digest = entry
        feed = (parse_origin(origin, f"entry {index}"), parse_audience(audience))
        if type(seq) is not int or seq < 1:
            raise MalformedError(f"entry {index}: seq must be a positive integer")
        if feed in parsed:
            raise MalformedError(f"entry {index} repeats a feed")
        parsed[feed] = (seq, parse_digest(digest, DIGEST_BYTES, "feed digest"))
    return parsed
