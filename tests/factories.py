"""Test data: fixed-seed keys, record bodies and signed records."""

import hashlib
from typing import Any

import msgpack

from protocol.keys import NodeKey
from protocol.records import SignedRecord, sign_record

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
