"""The sync version 2 part of the committed vectors (``sync.json``, ``version_2``).

Every feed digest, vector digest and bucket digest is recomputed by hand
from the entries' inputs (docs/protocol.md 16.1), every message decodes to
what the file says and re-encodes to the same bytes, and the fork's two
envelopes verify and hold one slot. ``tests/test_sync_vectors.py`` checks that
the generator still gives exactly the committed file.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from protocol.envelope import decode_envelope
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, decode_batch, encode_batch, verify_record
from protocol.sync import BUCKETS, SyncRequest, decode_sync_answer, encode_sync_answer
from protocol.sync2 import (
    EntriesRequest2,
    EvidenceRequest,
    bucket_digests2,
    decode_any_sync_step,
    decode_entries_answer2,
    encode_entries_answer2,
    encode_entries_request2,
    encode_evidence_request,
    encode_sync_request2,
    vector_digest2,
)

SYNC: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "sync.json").read_text(encoding="utf-8")
)
V2 = SYNC["version_2"]
MESSAGES = {name: bytes.fromhex(data) for name, data in V2["messages"].items()}
RECORDS = {
    bytes.fromhex(r["record_id"]): SignedRecord(
        bytes.fromhex(r["envelope"]), bytes.fromhex(r["signature"]), bytes.fromhex(r["body"])
    )
    for r in json.loads(
        (Path(__file__).parent / "vectors" / "records.json").read_text(encoding="utf-8")
    )["records"]
    if r.get("body") is not None
}


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _vector(description: dict[str, Any]) -> dict[tuple[bytes, str], tuple[int, bytes]]:
    return {
        (bytes.fromhex(e["origin"]), e["audience"]): (e["seq"], bytes.fromhex(e["feed_digest"]))
        for e in description["entries"]
    }


def test_the_empty_digests_are_as_written() -> None:
    assert bytes.fromhex(V2["feed_digest_start"]) == _sha(b"banscan/2 feed\x00")
    assert bytes.fromhex(V2["empty_vector_digest"]) == _sha(b"banscan/2 vector\x00")
    assert bytes.fromhex(V2["empty_bucket_digest"]) == _sha(b"banscan/2 bucket\x00")[:8]


@pytest.mark.parametrize("side", ["asker_vector", "answerer_vector"])
def test_vector_digests_recompute_by_hand(side: str) -> None:
    description = V2[side]
    chained = b""
    buckets: list[bytes] = [b""] * BUCKETS
    for entry in description["entries"]:
        origin = bytes.fromhex(entry["origin"])
        written = (
            origin
            + entry["audience"].encode()
            + b"\x00"
            + entry["seq"].to_bytes(8, "big")
            + bytes.fromhex(entry["feed_digest"])
        )
        assert written.hex() == entry["entry_bytes"]
        chained += written
        buckets[origin[0] % BUCKETS] += written
    assert _sha(b"banscan/2 vector\x00" + chained).hex() == description["digest"]
    assert [_sha(b"banscan/2 bucket\x00" + b)[:8].hex() for b in buckets] == description[
        "bucket_digests"
    ]
    vector = _vector(description)
    assert vector_digest2(vector).hex() == description["digest"]
    assert [d.hex() for d in bucket_digests2(vector)] == description["bucket_digests"]


def test_a_feed_digest_chains_the_ids_of_each_slot() -> None:
    """The asker's feeds, rebuilt from the ids of the records it holds (records.json)."""
    start = bytes.fromhex(V2["feed_digest_start"])
    ids_by_feed: dict[tuple[bytes, str], dict[int, bytes]] = {}
    for record_id in map(bytes.fromhex, SYNC["asker"]["holds"]):
        env = decode_envelope(RECORDS[record_id].envelope_bytes)
        ids_by_feed.setdefault((env.origin, env.audience), {})[env.seq] = record_id
    for feed, (seq, digest) in _vector(V2["asker_vector"]).items():
        chain = start
        for slot in range(1, seq + 1):
            chain = _sha(chain + ids_by_feed[feed][slot])
        assert chain == digest
    fork = V2["fork"]
    both = b"".join(sorted(bytes.fromhex(i) for i in fork["ids"]))
    assert _sha(start + both).hex() == fork["feed_digest_with_both"]


def test_the_messages_decode_and_encode_to_the_same_bytes() -> None:
    ours, theirs = _vector(V2["asker_vector"]), _vector(V2["answerer_vector"])
    buckets = tuple(V2["differing_buckets"])
    version, request = decode_any_sync_step(MESSAGES["sync_request"])
    assert (version, request) == (2, SyncRequest(("public", "network"), vector_digest2(ours)))
    assert isinstance(request, SyncRequest)
    assert encode_sync_request2(request) == MESSAGES["sync_request"]
    answer = decode_sync_answer(MESSAGES["sync_answer"])
    assert list(answer.buckets) == bucket_digests2(theirs)
    assert encode_sync_answer(answer) == MESSAGES["sync_answer"]
    version, entries = decode_any_sync_step(MESSAGES["entries_request"])
    assert isinstance(entries, EntriesRequest2)
    assert entries.buckets == buckets
    assert entries.entries == {f: e for f, e in ours.items() if f[0][0] % BUCKETS in buckets}
    assert encode_entries_request2(entries) == MESSAGES["entries_request"]
    answered = decode_entries_answer2(MESSAGES["entries_answer"])
    assert answered == {f: e for f, e in theirs.items() if f[0][0] % BUCKETS in buckets}
    assert encode_entries_answer2(answered) == MESSAGES["entries_answer"]


def test_the_evidence_exchange_carries_the_fork() -> None:
    fork = V2["fork"]
    _, request = decode_any_sync_step(MESSAGES["evidence_request"])
    assert isinstance(request, EvidenceRequest)
    assert (request.origin.hex(), request.audience, request.after) == (
        fork["slot"]["origin"],
        "public",
        0,
    )
    assert encode_evidence_request(request) == MESSAGES["evidence_request"]
    [evidence] = decode_batch(MESSAGES["evidence_answer"], DEFAULT_LIMITS)
    assert encode_batch([evidence]) == MESSAGES["evidence_answer"]
    assert evidence.body is None
    assert evidence.envelope_bytes.hex() == fork["record"]
    verified = verify_record(evidence, network_id=SYNC["network_id"], limits=DEFAULT_LIMITS)
    held = RECORDS[request.ids[0]]
    first = decode_envelope(held.envelope_bytes)
    assert verified.id.hex() == fork["id"] != held.id.hex()
    assert (verified.envelope.origin, verified.envelope.audience, verified.envelope.seq) == (
        first.origin,
        first.audience,
        first.seq,
    )
    assert sorted([verified.id.hex(), held.id.hex()]) == fork["ids"]
