"""Build ``tests/vectors/records.json``: records signed with fixed key seeds.

The file lets another implementation check itself against ours byte for byte
(``docs/protocol.md`` explains every field). Each key's seed is written in the
file; Ed25519 signatures are deterministic, so the same seeds always give the
same bytes. Regenerate after a deliberate format change with::

    python3 tests/vectors/generate.py

``tests/test_vectors.py`` checks that :func:`build_vectors` still gives exactly
the committed file, so an accidental change in encoding fails the tests.

The file holds:

- ``keys``: seed, public key and key text form of each signing key;
- ``records``: valid records, one per kind and one of an unknown kind, with
  the envelope's fields, its bytes, the record id, the signature, the body
  bytes and the map they hold, and the wire form ``[envelope, signature, body]``;
- ``batch`` and ``bundle``: those records as one batch and as one bundle file;
- ``invalid_records``: records a receiver must reject, each with the error
  code it must report (see ``protocol/errors.py``);
- ``invalid_key_texts``: key texts that must be rejected.

It also builds ``tests/vectors/sync.json`` (:func:`build_sync_vectors`): two
vectors over the same records, their digests and bucket digests, every
federation message of one sync session between them, and an RFC 9421 signed
request and answer, all from the same fixed seeds, clock and nonce; and, under
``version_2``, the same in sync version 2 with an evidence exchange over a fork
(``generate_sync2.py``).
"""

import hashlib
import json
from pathlib import Path
from typing import Any

import msgpack

from protocol import PROTOCOL_VERSION
from protocol.bundle import encode_header, encode_trailer
from protocol.envelope import Envelope, decode_envelope
from protocol.keys import KEY_PREFIX, NodeKey, b64url_encode
from protocol.kinds import decode_body_map, encode_body, validate_body
from protocol.records import SignedRecord, encode_batch, sign_record
from protocol.sync import (
    BUCKETS,
    EntriesAnswer,
    EntriesRequest,
    PullRequest,
    PushResult,
    SyncAnswer,
    SyncRequest,
    Vector,
    Want,
    bucket_digests,
    bucket_of,
    encode_entries_answer,
    encode_entries_request,
    encode_pull_request,
    encode_push_answer,
    encode_sync_answer,
    encode_sync_request,
    in_buckets,
    restrict,
    vector_digest,
)

FORMAT = "banscan-vectors/1"
NETWORK = "banthescan"
CREATED_MS = 1_760_000_000_000
OUTPUT = Path(__file__).with_name("records.json")
SYNC_OUTPUT = Path(__file__).with_name("sync.json")
SYNC_FORMAT = "banscan-sync-vectors/1"
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

SEEDS: dict[str, bytes] = {
    "chapter": bytes(range(0, 32)),
    "steward": bytes(range(32, 64)),
    "stranger": bytes(range(64, 96)),
}


def _keys() -> dict[str, NodeKey]:
    return {name: NodeKey.from_seed(seed) for name, seed in SEEDS.items()}


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def _envelope_fields(env: Envelope) -> dict[str, Any]:
    return {
        "version": PROTOCOL_VERSION,
        "network_id": env.network_id,
        "origin": env.origin.hex(),
        "audience": env.audience,
        "seq": env.seq,
        "created_ms": env.created_ms,
        "kind": env.kind,
        "body_sha256": env.body_sha256.hex(),
        "body_len": env.body_len,
    }


def _record_entry(
    name: str, key_name: str, record: SignedRecord, *, known_kind: bool
) -> dict[str, Any]:
    return {
        "name": name,
        "key": key_name,
        "envelope_fields": _envelope_fields(decode_envelope(record.envelope_bytes)),
        "envelope": record.envelope_bytes.hex(),
        "record_id": record.id.hex(),
        "signature": record.signature.hex(),
        "body": None if record.body is None else record.body.hex(),
        "body_map": None if record.body is None else decode_body_map(record.body),
        "known_kind": known_kind,
        "wire": record.encode().hex(),
    }


def _valid_records(keys: dict[str, NodeKey]) -> list[tuple[str, str, SignedRecord, bool]]:
    chapter, steward = keys["chapter"], keys["steward"]

    def known(key: NodeKey, audience: str, seq: int, kind: str, body: Any) -> SignedRecord:
        return sign_record(
            key,
            network_id=NETWORK,
            audience=audience,
            seq=seq,
            created_ms=CREATED_MS + seq,
            kind=kind,
            body=encode_body(validate_body(kind, body)),
        )

    incident = known(
        chapter,
        "public",
        1,
        "incident",
        {
            "occurred_on": {"date": "2025-03-14", "precision": "day"},
            "country": "GB",
            "city": "London",
            "area": "gcpvj0",
            "category": "protest_surveillance",
            "technology": {"type": "live_frt", "detail": "van-mounted cameras"},
            "agency": {"name": "Metropolitan Police Service"},
            "summary": "Live facial recognition vans filmed a march.",
            "sources": [{"url": "https://example.org/report/1"}],
            "verification": {"status": "corroborated", "confirmations": 2},
            "tags": ["protest"],
        },
    )
    deployment = known(
        chapter,
        "public",
        2,
        "deployment",
        {
            "lat_e7": 515_072_000,
            "lon_e7": -1_275_000,
            "country": "GB",
            "city": "London",
            "osm": {"man_made": "surveillance", "surveillance:type": "camera"},
            "frt_capability": {"status": "suspected", "basis": ["vendor_document"]},
            "observed_on": {"date": "2025-03-01", "precision": "month"},
            "observers": 3,
            "status": "corroborated",
        },
    )
    retraction = known(
        chapter,
        "public",
        3,
        "retraction",
        {"target": incident.id.hex(), "reason": "duplicate"},
    )
    node = known(
        chapter,
        "network",
        1,
        "node",
        {
            "urls": ["https://banscan.example.org"],
            "name": "Ban the Scan London",
            "city": "London",
            "country": "GB",
            "software": "banscan 0.1.0",
        },
    )
    admit = known(
        steward,
        "network",
        1,
        "membership",
        {
            "subject": chapter.text,
            "action": "admit",
            "role": "chapter",
            "name": "Ban the Scan London",
            "city": "London",
            "country": "GB",
        },
    )
    revoke = known(
        steward,
        "network",
        2,
        "membership",
        {
            "subject": chapter.text,
            "action": "revoke",
            "role": "chapter",
            "name": "Ban the Scan London",
            "compromised_since_ms": CREATED_MS,
        },
    )
    unknown = sign_record(
        chapter,
        network_id=NETWORK,
        audience="coordinators",
        seq=1,
        created_ms=CREATED_MS + 10,
        kind="petition",
        body=_pack({"title": "Ban the scan", "signatures": 1200, "closes_on": "2026-01-31"}),
    )
    erased = SignedRecord(incident.envelope_bytes, incident.signature, None)
    return [
        ("incident", "chapter", incident, True),
        ("deployment", "chapter", deployment, True),
        ("retraction", "chapter", retraction, True),
        ("node", "chapter", node, True),
        ("membership-admit", "steward", admit, True),
        ("membership-revoke", "steward", revoke, True),
        ("unknown-kind", "chapter", unknown, False),
        ("incident-body-erased", "chapter", erased, True),
    ]


def _raw_envelope(
    items: dict[str, Any], *, encoded: dict[str, bytes] | None = None, header: bytes = b"\x99"
) -> bytes:
    """Envelope bytes built by hand, so that a field can be given any encoding."""
    order = (
        "version",
        "network_id",
        "origin",
        "audience",
        "seq",
        "created_ms",
        "kind",
        "body_sha256",
        "body_len",
    )
    encoded = encoded or {}
    return header + b"".join(encoded.get(name, _pack(items.get(name))) for name in order)


def _invalid_records(keys: dict[str, NodeKey]) -> list[dict[str, Any]]:
    chapter, stranger = keys["chapter"], keys["stranger"]
    body = encode_body(
        validate_body(
            "retraction",
            {"target": "00" * 32, "reason": "error", "note": "published twice"},
        )
    )

    def fields(**changes: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "version": PROTOCOL_VERSION,
            "network_id": NETWORK,
            "origin": chapter.public_key,
            "audience": "public",
            "seq": 7,
            "created_ms": CREATED_MS + 7,
            "kind": "retraction",
            "body_sha256": hashlib.sha256(body).digest(),
            "body_len": len(body),
        }
        base.update(changes)
        return base

    def entry(
        name: str,
        error: str,
        description: str,
        envelope: bytes,
        *,
        signature: bytes | None = None,
        record_body: bytes | None = body,
    ) -> dict[str, Any]:
        return {
            "name": name,
            "description": description,
            "envelope": envelope.hex(),
            "signature": (chapter.sign(envelope) if signature is None else signature).hex(),
            "body": None if record_body is None else record_body.hex(),
            "error": error,
        }

    def with_body(kind: str, content: dict[str, Any]) -> tuple[bytes, bytes]:
        raw = _pack(content)
        envelope = _raw_envelope(
            fields(
                kind=kind,
                body_sha256=hashlib.sha256(raw).digest(),
                body_len=len(raw),
            )
        )
        return envelope, raw

    good = _raw_envelope(fields())
    flipped = bytearray(chapter.sign(good))
    flipped[0] ^= 0x01
    tampered = bytearray(body)
    tampered[-1] ^= 0x01
    big_body = bytes(65 * 1024)
    exact_point, exact_point_body = with_body(
        "incident",
        {
            "occurred_on": {"date": "2025-03-14", "precision": "day"},
            "country": "GB",
            "lat_e7": 515_072_000,
            "lon_e7": -1_275_000,
            "category": "harassment",
            "technology": {"type": "mobile_app"},
            "summary": "An officer photographed a leafleter with a phone app.",
        },
    )
    long_area, long_area_body = with_body(
        "incident",
        {
            "occurred_on": {"date": "2025-03-01", "precision": "month"},
            "country": "GB",
            "area": "gcpvj0e",
            "category": "harassment",
            "technology": {"type": "mobile_app"},
            "summary": "An officer photographed a leafleter with a phone app.",
        },
    )
    mid_month, mid_month_body = with_body(
        "incident",
        {
            "occurred_on": {"date": "2025-03-14", "precision": "month"},
            "country": "GB",
            "category": "harassment",
            "technology": {"type": "mobile_app"},
            "summary": "An officer photographed a leafleter with a phone app.",
        },
    )
    not_iso, not_iso_body = with_body(
        "node", {"urls": ["https://banscan.example.org"], "name": "London", "country": "UK"}
    )
    repeated_raw = (
        b"\x83"
        + _pack("target")
        + _pack("00" * 32)
        + _pack("reason")
        + _pack("error")
        + _pack("reason")
        + _pack("legal")
    )
    repeated = _raw_envelope(
        fields(body_sha256=hashlib.sha256(repeated_raw).digest(), body_len=len(repeated_raw))
    )
    return [
        entry(
            "non-canonical-seq-uint16",
            "non-canonical",
            "seq 7 written as uint16 (cd 00 07) instead of positive fixint (07)",
            _raw_envelope(fields(), encoded={"seq": b"\xcd\x00\x07"}),
        ),
        entry(
            "non-canonical-audience-str8",
            "non-canonical",
            "audience 'public' written as str8 (d9 06) instead of fixstr (a6)",
            _raw_envelope(fields(), encoded={"audience": b"\xd9\x06public"}),
        ),
        entry(
            "non-canonical-origin-bin16",
            "non-canonical",
            "origin written as bin16 (c5 00 20) instead of bin8 (c4 20)",
            _raw_envelope(fields(), encoded={"origin": b"\xc5\x00\x20" + chapter.public_key}),
        ),
        entry(
            "non-canonical-array16",
            "non-canonical",
            "the envelope array written as array16 (dc 00 09) instead of fixarray (99)",
            _raw_envelope(fields(), header=b"\xdc\x00\x09"),
        ),
        entry(
            "wrong-version",
            "malformed",
            "version string 'banscan/2'",
            _raw_envelope(fields(version="banscan/2")),
        ),
        entry(
            "seq-is-bool",
            "malformed",
            "seq written as msgpack true (c3)",
            _raw_envelope(fields(), encoded={"seq": b"\xc3"}),
        ),
        entry(
            "seq-zero",
            "malformed",
            "seq 0: feeds start at 1",
            _raw_envelope(fields(seq=0)),
        ),
        entry(
            "eight-items",
            "malformed",
            "an array of 8 items: body_len is missing",
            b"\x98" + b"".join(_pack(value) for value in list(fields().values())[:8]),
        ),
        entry(
            "not-msgpack",
            "malformed",
            "the byte c1, which msgpack never uses",
            b"\xc1",
        ),
        entry(
            "unknown-audience",
            "unknown-audience",
            "audience 'friends'",
            _raw_envelope(fields(audience="friends")),
        ),
        entry(
            "wrong-network",
            "wrong-network",
            "signed for network 'testnet'; checked as a record of 'banthescan'",
            _raw_envelope(fields(network_id="testnet")),
        ),
        entry(
            "oversize-envelope",
            "too-large",
            "a 600-byte network_id makes the envelope larger than 512 bytes",
            _raw_envelope(fields(network_id="x" * 600)),
        ),
        entry(
            "oversize-body",
            "too-large",
            "body_len 66560 is over the 65536-byte body limit (body erased, so only the "
            "envelope travels)",
            _raw_envelope(
                fields(body_sha256=hashlib.sha256(big_body).digest(), body_len=len(big_body))
            ),
            record_body=None,
        ),
        entry(
            "body-hash-mismatch",
            "body-mismatch",
            "the body's last byte changed after signing",
            good,
            record_body=bytes(tampered),
        ),
        entry(
            "body-length-mismatch",
            "body-mismatch",
            "a byte appended to the body after signing",
            good,
            record_body=body + b"\x00",
        ),
        entry(
            "signature-bit-flipped",
            "bad-signature",
            "the lowest bit of the signature's first byte flipped",
            good,
            signature=bytes(flipped),
        ),
        entry(
            "signature-by-another-key",
            "bad-signature",
            "signed by the 'stranger' key, not by the origin",
            good,
            signature=stranger.sign(good),
        ),
        entry(
            "incident-exact-point",
            "invalid-body",
            "an incident carrying lat_e7 and lon_e7",
            exact_point,
            record_body=exact_point_body,
        ),
        entry(
            "incident-area-7-characters",
            "invalid-body",
            "an incident whose geohash area has 7 characters",
            long_area,
            record_body=long_area_body,
        ),
        entry(
            "incident-month-not-first-day",
            "invalid-body",
            "a partial date of month precision whose date is not the first of the month",
            mid_month,
            record_body=mid_month_body,
        ),
        entry(
            "node-country-not-iso",
            "invalid-body",
            "country 'UK', which is not an ISO 3166-1 alpha-2 code (the UK is 'GB')",
            not_iso,
            record_body=not_iso_body,
        ),
        entry(
            "body-repeated-key",
            "malformed",
            "a body map that holds the key 'reason' twice",
            repeated,
            record_body=repeated_raw,
        ),
    ]


def _invalid_key_texts(keys: dict[str, NodeKey]) -> list[dict[str, str]]:
    encoded = keys["chapter"].text.removeprefix(KEY_PREFIX)
    # 43 characters carry 258 bits: the last character's two low bits must be 0.
    # Setting one spells the same 32 bytes a second way.
    alias_last = BASE64URL[BASE64URL.index(encoded[-1]) + 1]
    return [
        {"text": KEY_PREFIX + encoded + "=", "reason": "padded"},
        {"text": "ED25519:" + encoded, "reason": "the prefix is lowercase"},
        {"text": encoded, "reason": "no prefix"},
        {"text": KEY_PREFIX + encoded[:-1], "reason": "42 characters: truncated"},
        {"text": KEY_PREFIX + encoded[:-1] + alias_last, "reason": "non-canonical last character"},
        {"text": KEY_PREFIX + "+" + encoded[1:], "reason": "'+' is not in the base64url alphabet"},
        {"text": KEY_PREFIX + b64url_encode(bytes(33)), "reason": "33 bytes"},
    ]


def build_vectors() -> dict[str, Any]:
    keys = _keys()
    valid = _valid_records(keys)
    records = [r for _, _, r, _ in valid]
    bundle = (
        encode_header(NETWORK, CREATED_MS + 100)
        + b"".join(r.encode() for r in records)
        + encode_trailer(len(records))
    )
    return {
        "format": FORMAT,
        "description": (
            "banscan/1 records signed with fixed Ed25519 seeds. All byte strings are "
            "lowercase hex. Check records with network_id 'banthescan' and the default "
            "limits. See docs/protocol.md."
        ),
        "network_id": NETWORK,
        "keys": [
            {
                "name": name,
                "seed": SEEDS[name].hex(),
                "public_key": key.public_key.hex(),
                "key_text": key.text,
            }
            for name, key in keys.items()
        ],
        "records": [
            _record_entry(name, key_name, record, known_kind=known)
            for name, key_name, record, known in valid
        ],
        "batch": encode_batch(records).hex(),
        "bundle": bundle.hex(),
        "invalid_records": _invalid_records(keys),
        "invalid_key_texts": _invalid_key_texts(keys),
    }


# The federation messages (tests/vectors/sync.json)

# The session: a chapter ("asker") that holds the incident and the steward's two
# membership records syncs with the steward ("answerer"), which holds every record.
SYNC_AUDIENCES = ("public", "network")
SYNC_CLOCK_S = 1_760_000_000
SYNC_NONCE = "bm9uY2Utb2YtdGhlLXZlY3Rvcg"
SYNC_URL = "https://steward.example.org/federation/v1/sync"


def _vector_of(records: list[SignedRecord]) -> dict[tuple[bytes, str], int]:
    vector: dict[tuple[bytes, str], int] = {}
    for record in records:
        env = decode_envelope(record.envelope_bytes)
        feed = (env.origin, env.audience)
        vector[feed] = max(vector.get(feed, 0), env.seq)
    return vector


def _vector_entry(vector: Vector) -> list[dict[str, Any]]:
    return [
        {
            "origin": origin.hex(),
            "audience": audience,
            "seq": seq,
            "bucket": bucket_of(origin),
            "entry_bytes": (origin + audience.encode() + b"\x00" + seq.to_bytes(8, "big")).hex(),
        }
        for (origin, audience), seq in sorted(vector.items())
    ]


def _vector_description(vector: Vector) -> dict[str, Any]:
    buckets = bucket_digests(vector)
    return {
        "entries": _vector_entry(vector),
        "digest": vector_digest(vector).hex(),
        "bucket_digests": [digest.hex() for digest in buckets],
    }


def _signature_base(lines: list[tuple[str, str]], signature_input: str) -> str:
    """The RFC 9421 signature base, written out by hand from the covered values."""
    params = signature_input.split("=", 1)[1]
    return "".join(f"{name}: {value}\n" for name, value in lines) + f'"@signature-params": {params}'


def _signed_exchange(keys: dict[str, NodeKey], body: bytes, answer: bytes) -> dict[str, Any]:
    # Imported here: the record vectors above need only the pure protocol package.
    from federation.httpsig import MessageSigner, SignedRequest, SignedResponse, headers

    clock = lambda: float(SYNC_CLOCK_S)  # noqa: E731
    asker = MessageSigner(keys["chapter"], NETWORK, clock, nonce=lambda: SYNC_NONCE)
    answerer = MessageSigner(keys["steward"], NETWORK, clock)
    request = SignedRequest("POST", SYNC_URL, headers([("Content-Type", "application/msgpack")]))
    asker.sign_request(request, body)
    response = SignedResponse(200, request, headers([("Content-Type", "application/msgpack")]))
    answerer.sign_response(response, answer)
    unbound = SignedResponse(200, request, headers([("Content-Type", "application/msgpack")]))
    answerer.sign_response(unbound, answer, bound=False)
    request_signature = request.headers["Signature"].split("=", 1)[1]

    def part(
        message: SignedRequest | SignedResponse, lines: list[tuple[str, str]]
    ) -> dict[str, Any]:
        return {
            "content_digest": message.headers["Content-Digest"],
            "signature_input": message.headers["Signature-Input"],
            "signature": message.headers["Signature"],
            "signature_base": _signature_base(lines, message.headers["Signature-Input"]),
        }

    return {
        "request": {
            "method": "POST",
            "url": SYNC_URL,
            "key": "chapter",
            "body": "sync_request",
            **part(
                request,
                [
                    ('"@method"', "POST"),
                    ('"@target-uri"', SYNC_URL),
                    ('"content-digest"', request.headers["Content-Digest"]),
                ],
            ),
        },
        "response": {
            "status": 200,
            "key": "steward",
            "body": "sync_answer",
            **part(
                response,
                [
                    ('"@status"', "200"),
                    ('"content-digest"', response.headers["Content-Digest"]),
                    ('"signature";req;key="banscan"', request_signature),
                ],
            ),
        },
        "unbound_response": {
            "status": 200,
            "key": "steward",
            "body": "sync_answer",
            **part(
                unbound,
                [
                    ('"@status"', "200"),
                    ('"content-digest"', unbound.headers["Content-Digest"]),
                ],
            ),
        },
    }


def build_sync_vectors() -> dict[str, Any]:
    # Imported here: generate_sync2 is a module of this directory, as this one is.
    from tests.vectors.generate_sync2 import build_version_2

    keys = _keys()
    valid = {name: record for name, _, record, _ in _valid_records(keys)}
    held = [valid[n] for n in ("incident", "deployment", "retraction", "node")]
    held += [valid["membership-admit"], valid["membership-revoke"], valid["unknown-kind"]]
    asker_records = [valid["incident"], valid["membership-admit"], valid["membership-revoke"]]
    answerer = _vector_of(held)
    asker = _vector_of(asker_records)
    ours = restrict(asker, SYNC_AUDIENCES)
    theirs = restrict(answerer, SYNC_AUDIENCES)
    mine, their_buckets = bucket_digests(ours), bucket_digests(theirs)
    differing = tuple(i for i in range(BUCKETS) if mine[i] != their_buckets[i])
    sent, answered = in_buckets(ours, differing), in_buckets(theirs, differing)
    wants = tuple(
        Want(origin, audience, sent.get((origin, audience), 0), seq)
        for (origin, audience), seq in sorted(answered.items())
        if seq > sent.get((origin, audience), 0)
    )
    by_feed = {
        (env.origin, env.audience, env.seq): record
        for record in held
        for env in [decode_envelope(record.envelope_bytes)]
    }
    batch = [
        by_feed[(w.origin, w.audience, seq)]
        for w in wants
        for seq in range(w.after + 1, w.upto + 1)
    ]
    sync_request = encode_sync_request(SyncRequest(SYNC_AUDIENCES, vector_digest(ours)))
    sync_answer = encode_sync_answer(SyncAnswer(SYNC_AUDIENCES, False, tuple(their_buckets)))
    messages = {
        "sync_request": sync_request,
        "sync_answer": sync_answer,
        "entries_request": encode_entries_request(EntriesRequest(SYNC_AUDIENCES, differing, sent)),
        "entries_answer": encode_entries_answer(EntriesAnswer(answered)),
        "pull_request": encode_pull_request(PullRequest(wants, 500)),
        "pull_answer": encode_batch(batch),
        "in_sync_request": encode_sync_request(SyncRequest(SYNC_AUDIENCES, vector_digest(theirs))),
        "in_sync_answer": encode_sync_answer(SyncAnswer(SYNC_AUDIENCES, True)),
        "public_sync_request": encode_sync_request(
            SyncRequest(("public",), vector_digest(restrict(asker, ("public",))))
        ),
        "push_request": encode_batch([valid["incident"], valid["retraction"]]),
        "push_answer": encode_push_answer(
            [
                PushResult(valid["incident"].id, "duplicate", None),
                PushResult(valid["retraction"].id, "rejected", "seq-gap"),
            ]
        ),
    }
    return {
        "format": SYNC_FORMAT,
        "description": (
            "banscan/1 federation messages, built from the records and seeds of records.json. "
            "All byte strings are lowercase hex. See docs/protocol.md, part II."
        ),
        "network_id": NETWORK,
        "buckets": BUCKETS,
        "empty_bucket_digest": bucket_digests({})[0].hex(),
        "empty_vector_digest": vector_digest({}).hex(),
        "answerer": {
            "key": "steward",
            "holds": [r.id.hex() for r in held],
            "vector": _vector_description(answerer),
        },
        "asker": {
            "key": "chapter",
            "holds": [r.id.hex() for r in asker_records],
            "vector": _vector_description(asker),
        },
        "session": {
            "audiences": list(SYNC_AUDIENCES),
            "asker_vector": _vector_description(ours),
            "answerer_vector": _vector_description(theirs),
            "differing_buckets": list(differing),
            "wants": [
                {"origin": w.origin.hex(), "audience": w.audience, "after": w.after, "upto": w.upto}
                for w in wants
            ],
            "pulled": [r.id.hex() for r in batch],
        },
        "messages": {name: data.hex() for name, data in messages.items()},
        "signatures": _signed_exchange(keys, sync_request, sync_answer),
        "version_2": build_version_2(keys["chapter"], asker_records, held),
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=2, ensure_ascii=True) + "\n"


def main() -> None:
    OUTPUT.write_text(render(build_vectors()), encoding="utf-8")
    print(f"wrote {OUTPUT}")
    SYNC_OUTPUT.write_text(render(build_sync_vectors()), encoding="utf-8")
    print(f"wrote {SYNC_OUTPUT}")


if __name__ == "__main__":
    main()
