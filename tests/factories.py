"""Test data: fixed-seed keys, record bodies and signed records."""

import hashlib
from collections.abc import Sequence
from typing import Any

import msgpack

from protocol.envelope import decode_envelope
from protocol.errors import ProtocolError
from protocol.keys import NodeKey, key_text
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, sign_record, verify_record
from storage.classify import Outcome
from storage.store import Store

NETWORK = "banthescan"


def seeded_key(label: str) -> NodeKey:
    """A deterministic key: the seed is SHA-256 of ``label``."""
    return NodeKey.from_seed(hashlib.sha256(label.encode()).digest())


def incident_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "occurred_on": {"date": "2025-03-14", "precision": "day"},
        "country": "US",
        "region": "NY",
        "city": "New York",
        "area": "dr5ru7",
        "category": "protest_surveillance",
        "technology": {"type": "live_frt"},
        "agency": {"name": "NYPD"},
        "summary": "Live facial recognition vans filmed a march.",
        "verification": {"status": "corroborated", "confirmations": 2},
    }
    body.update(overrides)
    return body


def deployment_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lat_e7": 407_580_000,
        "lon_e7": -739_855_000,
        "country": "US",
        "city": "New York",
        "osm": {"man_made": "surveillance", "surveillance:type": "camera"},
        "frt_capability": {"status": "suspected", "basis": ["vendor_document"]},
        "status": "reported",
    }
    body.update(overrides)
    return body


AGENCY_ID = "a9" * 32  # a made-up agency record id for bodies that point at one


def agency_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "New York City Police Department",
        "type": "police",
        "jurisdiction": {
            "code": "US-NY",
            "city": "New York",
            "ocd_id": "ocd-division/country:us/state:ny/place:new_york",
        },
        "wikidata": "Q328473",
        "website": "https://www.nyc.gov/site/nypd/",
    }
    body.update(overrides)
    return body


def vendor_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Clearview AI",
        "wikidata": "Q85787556",
        "products": [{"name": "Clearview AI", "technology": "retrospective_frt"}],
        "sources": [{"url": "https://example.org/vendor"}],
    }
    body.update(overrides)
    return body


def policy_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jurisdiction": {"code": "US-CA", "city": "San Francisco"},
        "instrument": "ban",
        "status": "in_force",
        "title": "Stop Secret Surveillance Ordinance",
        "dates": {"introduced": "2019-01-29", "passed": "2019-05-14", "effective": "2019-07-01"},
        "scope": "City departments may not obtain or use face recognition technology.",
        "evidence": [{"url": "https://example.org/ordinance.pdf", "sha256": "e1" * 32}],
    }
    body.update(overrides)
    return body


def records_request_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "agency": {"name": "NYPD", "record": AGENCY_ID},
        "law": "US-NY FOIL",
        "filed_on": "2026-01-05",
        "subject": "Contracts, policies and audit logs for facial recognition, 2020-2025.",
        "status": "acknowledged",
        "due_on": "2026-02-03",
        "events": [
            {"on": "2026-01-05", "status": "submitted"},
            {"on": "2026-01-09", "status": "acknowledged"},
        ],
        "links": ["https://www.muckrock.com/foi/example-1/"],
    }
    body.update(overrides)
    return body


def action_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "public_comment",
        "title": "Comment on the NYPD's POST Act impact statement",
        "target": {"name": "NYPD", "record": AGENCY_ID},
        "url": "https://example.org/comment",
        "jurisdiction": {"code": "US-NY", "city": "New York"},
        "opens_on": "2026-01-01",
        "closes_on": "2026-12-31",
    }
    body.update(overrides)
    return body


def signed(
    key: NodeKey,
    seq: int,
    *,
    body: dict[str, Any] | bytes | None = None,
    kind: str = "incident",
    audience: str = "public",
    network_id: str = NETWORK,
    created_ms: int = 1_760_000_000_000,
) -> SignedRecord:
    """A record signed by ``key``; ``body`` defaults to a valid incident."""
    raw = (
        body
        if isinstance(body, bytes)
        else msgpack.packb(incident_body() if body is None else body, use_bin_type=True)
    )
    return sign_record(
        key,
        network_id=network_id,
        audience=audience,
        seq=seq,
        created_ms=created_ms + seq,
        kind=kind,
        body=raw,
    )


def feed(key: NodeKey, count: int, **kwargs: Any) -> list[SignedRecord]:
    """Seqs 1..count of one feed."""
    return [signed(key, seq, **kwargs) for seq in range(1, count + 1)]


# The test steward: test nodes and stores list it among their stewards, and its
# membership records admit the keys that sign the records tests ingest.
STEWARD = seeded_key("test steward")


def membership(
    subject: bytes,
    action: str = "admit",
    *,
    role: str = "chapter",
    name: str = "Test chapter",
    compromised_since_ms: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": key_text(subject),
        "action": action,
        "role": role,
        "name": name,
    }
    if compromised_since_ms is not None:
        body["compromised_since_ms"] = compromised_since_ms
    return body


async def admit(store: Store, *subjects: bytes, steward: NodeKey = STEWARD) -> None:
    """Admit ``subjects`` (those not members yet) with membership records ``steward`` signs,
    ingested like any other records; ``steward`` must be one of ``store``'s stewards."""
    todo = sorted({s for s in subjects if not store.trust.is_member(s)})
    if not todo:
        return
    held = {
        audience: seq
        for origin, audience, seq in await store.records.feeds()
        if origin == steward.public_key
    }
    start = held.get("public", 0) + 1
    records = [
        verify_record(
            signed(steward, start + n, kind="membership", body=membership(subject)),
            network_id=NETWORK,
            limits=DEFAULT_LIMITS,
        )
        for n, subject in enumerate(todo)
    ]
    results = await store.records.ingest(records)
    assert all(r.outcome is Outcome.ACCEPTED for r in results), results


def origins(batch: Sequence[SignedRecord]) -> list[bytes]:
    """The origins of the records of ``batch`` whose envelopes decode."""
    found = []
    for record in batch:
        try:
            found.append(decode_envelope(record.envelope_bytes).origin)
        except ProtocolError:
            continue
    return found
