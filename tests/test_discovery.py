"""Announcing and discovery over a real store, without a network: a node publishes its
``node`` record only when it changes, and peers come and go with members' records."""

from collections.abc import Callable
from typing import Any

import pytest

from federation.announce import announce
from federation.discovery import discover
from federation.settings import Announcement
from node.publishing import publish
from protocol.keys import NodeKey
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, VerifiedRecord, verify_record
from storage.store import Store
from tests.factories import NETWORK, STEWARD, membership, seeded_key, signed

HOME = seeded_key("discovery: home")
CHAPTER = seeded_key("discovery: a chapter")
STRANGER = seeded_key("discovery: no member")
T0 = 1_760_000_000_000


@pytest.fixture
def store_clock() -> Callable[[], int]:
    return lambda: T0


@pytest.fixture
def stewards() -> frozenset[bytes]:
    return frozenset({STEWARD.public_key, HOME.public_key})


def place(url: str, name: str = "Home chapter") -> Announcement:
    return Announcement(
        urls=(url,), name=name, city="Berlin", country="DE", software="banscan test"
    )


async def test_a_node_announces_only_what_changed(store: Store) -> None:
    published: list[VerifiedRecord] = []

    async def publish_home(kind: str, audience: str, body: dict[str, Any]) -> VerifiedRecord:
        record = await publish(
            store.records,
            HOME,
            network_id=NETWORK,
            limits=DEFAULT_LIMITS,
            kind=kind,
            audience=audience,
            body=body,
            clock=store.clock,
        )
        published.append(record)
        return record

    first = await announce(store, HOME.public_key, place("https://a.example"), publish_home)
    assert first is not None
    assert (first.envelope.kind, first.envelope.audience, first.envelope.seq) == (
        "node",
        "public",
        1,
    )
    # A restart with the same configuration publishes nothing.
    assert await announce(store, HOME.public_key, place("https://a.example"), publish_home) is None
    moved = await announce(store, HOME.public_key, place("https://b.example"), publish_home)
    assert moved is not None
    assert moved.envelope.seq == 2
    renamed = await announce(
        store, HOME.public_key, place("https://b.example", "Renamed"), publish_home
    )
    assert renamed is not None
    assert [r.envelope.seq for r in published] == [1, 2, 3]


async def ingest(store: Store, *records: SignedRecord) -> None:
    verified = [verify_record(r, network_id=NETWORK, limits=DEFAULT_LIMITS) for r in records]
    await store.records.ingest(verified, atomic=False)


def node_record(key: NodeKey, seq: int, url: str) -> SignedRecord:
    body = {"urls": [url], "name": "a chapter"}
    return signed(key, seq, kind="node", body=body)


async def test_members_node_records_make_peers_and_a_suspension_unmakes_them(
    store: Store,
) -> None:
    await ingest(
        store,
        node_record(CHAPTER, 1, "https://chapter.example"),
        node_record(STRANGER, 1, "https://stranger.example"),
        node_record(HOME, 1, "https://home.example"),
    )
    await discover(store, HOME.public_key)
    assert await store.peers.all() == []  # no member yet, and never this node itself

    await ingest(store, signed(STEWARD, 1, kind="membership", body=membership(CHAPTER.public_key)))
    await discover(store, HOME.public_key)
    peers = await store.peers.all()
    assert [(p.key, p.url, p.source) for p in peers] == [
        (CHAPTER.public_key, "https://chapter.example", "discovered")
    ]

    suspension = membership(CHAPTER.public_key, "suspend")
    await ingest(
        store,
        signed(STEWARD, 2, kind="membership", body=suspension, created_ms=T0 + 1),
    )
    await discover(store, HOME.public_key)
    assert await store.peers.all() == []
