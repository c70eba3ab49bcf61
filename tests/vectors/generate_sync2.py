"""The ``version_2`` part of ``tests/vectors/sync.json`` (docs/protocol.md 16.1, 17, 17.8).

The same two nodes as the version 1 session of ``generate.py``, with feed
digests in their vector entries, and a fork: the chapter signs a second
``public`` seq 1 (``fork``), which the answerer holds in place of the
incident; the asker's evidence request over that feed, and the answer.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import msgpack

from protocol.envelope import decode_envelope
from protocol.keys import NodeKey
from protocol.kinds import encode_body, validate_body
from protocol.records import SignedRecord, encode_batch, sign_record
from protocol.sync import (
    BUCKETS,
    Feed,
    SyncAnswer,
    SyncRequest,
    encode_sync_answer,
    in_buckets,
    restrict,
)
from protocol.sync2 import (
    FEED_DIGEST_START,
    EntriesRequest2,
    Entry,
    EvidenceRequest,
    bucket_digests2,
    encode_entries_answer2,
    encode_entries_request2,
    encode_evidence_request,
    encode_sync_request2,
    feed_digest,
    vector_digest2,
)

NETWORK = "banthescan"
AUDIENCES = ("public", "network")
KEYS: dict[bytes, NodeKey] = {}


def fork_record(incident: SignedRecord) -> SignedRecord:
    """A second record signed by the incident's key for its slot, another summary."""
    env = decode_envelope(incident.envelope_bytes)
    body = msgpack.unpackb(incident.body or b"", raw=False)
    body["summary"] = "A second record for a taken slot."
    return sign_record(
        KEYS[env.origin],
        network_id=NETWORK,
        audience=env.audience,
        seq=env.seq,
        created_ms=env.created_ms + 1,
        kind=env.kind,
        body=encode_body(validate_body(env.kind, body)),
    )


def vector2(records: Sequence[SignedRecord]) -> dict[Feed, Entry]:
    """The version 2 vector of a node holding ``records`` (a contiguous run per feed)."""
    slots: dict[Feed, dict[int, list[bytes]]] = {}
    for record in records:
        env = decode_envelope(record.envelope_bytes)
        slots.setdefault((env.origin, env.audience), {}).setdefault(env.seq, []).append(record.id)
    return {
        feed: (len(held), feed_digest(held[seq] for seq in sorted(held)))
        for feed, held in slots.items()
    }


def describe(vector: Mapping[Feed, Entry]) -> dict[str, Any]:
    return {
        "entries": [
            {
                "origin": origin.hex(),
                "audience": audience,
                "seq": seq,
                "feed_digest": digest.hex(),
                "entry_bytes": (
                    origin + audience.encode() + b"\x00" + seq.to_bytes(8, "big") + digest
                ).hex(),
            }
            for (origin, audience), (seq, digest) in sorted(vector.items())
        ],
        "digest": vector_digest2(vector).hex(),
        "bucket_digests": [d.hex() for d in bucket_digests2(vector)],
    }


def build_version_2(
    chapter: NodeKey, asker_records: Sequence[SignedRecord], held: Sequence[SignedRecord]
) -> dict[str, Any]:
    """The section: both vectors over ``public`` and ``network``, the messages of a
    version 2 session, and an evidence exchange over a forked feed."""
    ours = restrict(vector2(asker_records), AUDIENCES)
    theirs = restrict(vector2(held), AUDIENCES)
    mine, their_buckets = bucket_digests2(ours), bucket_digests2(theirs)
    differing = tuple(i for i in range(BUCKETS) if mine[i] != their_buckets[i])
    incident = asker_records[0]
    KEYS[chapter.public_key] = chapter
    fork = fork_record(incident)
    feed = (decode_envelope(incident.envelope_bytes).origin, "public")
    both = vector2([incident, fork])[feed]
    messages = {
        "sync_request": encode_sync_request2(SyncRequest(AUDIENCES, vector_digest2(ours))),
        "sync_answer": encode_sync_answer(SyncAnswer(AUDIENCES, False, tuple(their_buckets))),
        "entries_request": encode_entries_request2(
            EntriesRequest2(AUDIENCES, differing, in_buckets(ours, differing))
        ),
        "entries_answer": encode_entries_answer2(in_buckets(theirs, differing)),
        "evidence_request": encode_evidence_request(EvidenceRequest(*feed, 0, (incident.id,))),
        "evidence_answer": encode_batch([SignedRecord(fork.envelope_bytes, fork.signature, None)]),
    }
    return {
        "feed_digest_start": FEED_DIGEST_START.hex(),
        "empty_vector_digest": vector_digest2({}).hex(),
        "empty_bucket_digest": bucket_digests2({})[0].hex(),
        "asker_vector": describe(ours),
        "answerer_vector": describe(theirs),
        "differing_buckets": list(differing),
        "fork": {
            "record": fork.envelope_bytes.hex(),
            "signature": fork.signature.hex(),
            "id": fork.id.hex(),
            "slot": {"origin": feed[0].hex(), "audience": "public", "seq": 1},
            "ids": sorted([incident.id.hex(), fork.id.hex()]),
            "feed_digest_with_both": both[1].hex(),
        },
        "messages": {name: data.hex() for name, data in messages.items()},
    }
