"""Sync sessions between real stores over the in-memory transport.

Each node is a real SQLite store with the real verifier and sync service;
only the network between them is in memory (federation.sync.LocalTransport).
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from federation.service import SyncService
from federation.sync import LocalTransport, PeerError, PeerRef, SyncClient
from federation.verifier import Verifier
from protocol.keys import NodeKey
from protocol.limits import Limits
from protocol.records import SignedRecord, verify_record
from storage.store import Store
from tests.factories import NETWORK, incident_body, seeded_key, signed

STEWARD = seeded_key("sync steward")
CHAPTER_A = seeded_key("sync chapter a")
CHAPTER_B = seeded_key("sync chapter b")
COORDINATOR = seeded_key("sync coordinator")
OUTSIDER = seeded_key("sync outsider")


@dataclass
class Node:
    key: NodeKey
    store: Store
    service: SyncService
    client: SyncClient
    transport: LocalTransport
    seqs: dict[str, int]

    def ref(self) -> PeerRef:
        return PeerRef(self.key.public_key, f"memory://{self.key.text}")

    async def publish(
        self, audience: str = "network", *, kind: str = "incident", body: Any = None
    ) -> SignedRecord:
        """A record of this node's own feed, stored as its own."""
        seq = self.seqs.get(audience, 0) + 1
        self.seqs[audience] = seq
        record = signed(
            self.key,
            seq,
            body=body if body is not None else incident_body(summary=f"{audience} {seq}"),
            kind=kind,
            audience=audience,
        )
        verified = verify_record(record, network_id=NETWORK, limits=Limits())
        await self.store.records.append(self.key.public_key, audience, lambda _seq: verified)
        return record


Make = Callable[[NodeKey], Awaitable[Node]]


@pytest.fixture
async def network(tmp_path: Path) -> AsyncIterator[Make]:
    services: dict[bytes, SyncService] = {}
    opened: list[tuple[Store, Verifier]] = []

    async def make(key: NodeKey) -> Node:
        store = await Store.open(
            tmp_path / f"{key.text[8:20]}.db",
            synchronous="normal",
            stewards=frozenset({STEWARD.public_key}),
        )
        verifier = Verifier(NETWORK, Limits(), threads=1)
        opened.append((store, verifier))
        service = SyncService(store, verifier, key.public_key)
        services[key.public_key] = service
        transport = LocalTransport(key.public_key, services)
        return Node(key, store, service, SyncClient(service, transport), transport, {})

    yield make
    for store, verifier in opened:
        verifier.close()
        await store.close()


def admit(key: NodeKey, role: str = "chapter") -> dict[str, Any]:
    return {"subject": key.text, "action": "admit", "role": role, "name": f"node {key.text[8:14]}"}


async def feeds(node: Node) -> dict[tuple[bytes, str], int]:
    return await node.store.feeds.vector(("public", "network", "coordinators"))


async def test_nodes_in_sync_answer_in_one_round_trip(network: Make) -> None:
    steward, chapter = await network(STEWARD), await network(CHAPTER_A)
    await steward.publish("public", kind="membership", body=admit(CHAPTER_A))
    for _ in range(3):
        await steward.publish("network")
    # The chapter learns it is a member from the public membership record ...
    first = await chapter.client.session(steward.ref())
    assert first.public
    assert first.pulled == 1
    # ... then syncs the network audience as a member.
    second = await chapter.client.session(steward.ref())
    assert not second.public
    assert second.pulled == 3
    assert await feeds(chapter) == await feeds(steward)
    third = await chapter.client.session(steward.ref())
    assert third.in_sync
    assert third.round_trips == 1
    assert third.bytes_sent + third.bytes_received < 1000


async def test_a_session_pushes_what_the_peer_lacks(network: Make) -> None:
    steward, chapter = await network(STEWARD), await network(CHAPTER_A)
    await steward.publish("public", kind="membership", body=admit(CHAPTER_A))
    await chapter.client.session(steward.ref())
    for _ in range(4):
        await chapter.publish("network")
    report = await chapter.client.session(steward.ref())
    assert report.pushed == 4
    assert await feeds(chapter) == await feeds(steward)


async def test_pulls_come_in_bounded_batches(network: Make) -> None:
    steward, chapter = await network(STEWARD), await network(CHAPTER_A)
    await steward.publish("public", kind="membership", body=admit(CHAPTER_A))
    await chapter.client.session(steward.ref())
    for _ in range(1200):
        await steward.publish("network")
    report = await chapter.client.session(steward.ref())
    assert report.pulled == 1200
    # digest, entries, then three pulls of at most 500 records.
    assert report.round_trips == 2 + 3
    assert await feeds(chapter) == await feeds(steward)


async def test_audiences_follow_roles(network: Make) -> None:
    steward = await network(STEWARD)
    chapter, coordinator, outsider = (
        await network(CHAPTER_A),
        await network(COORDINATOR),
        await network(OUTSIDER),
    )
    await steward.publish("public", kind="membership", body=admit(CHAPTER_A))
    await steward.publish("public", kind="membership", body=admit(COORDINATOR, "coordinator"))
    await steward.publish("network")
    await steward.publish("coordinators")
    for node in (chapter, coordinator, outsider):
        await node.client.session(steward.ref())
        await node.client.session(steward.ref())
    assert {a for _, a in await feeds(chapter)} == {"public", "network"}
    assert {a for _, a in await feeds(coordinator)} == {"public", "network", "coordinators"}
    assert {a for _, a in await feeds(outsider)} == {"public"}


async def test_a_chapter_never_pushes_coordinators_records_to_a_chapter(network: Make) -> None:
    steward, coordinator, chapter = (
        await network(STEWARD),
        await network(COORDINATOR),
        await network(CHAPTER_A),
    )
    await steward.publish("public", kind="membership", body=admit(CHAPTER_A))
    await steward.publish("public", kind="membership", body=admit(COORDINATOR, "coordinator"))
    await steward.publish("coordinators")
    for node in (coordinator, chapter):
        await node.client.session(steward.ref())
        await node.client.session(steward.ref())
    # The coordinator syncs with the chapter: nothing of the coordinators audience moves.
    await coordinator.client.session(chapter.ref())
    await chapter.client.session(coordinator.ref())
    assert {a for _, a in await feeds(chapter)} == {"public"}


async def test_an_interrupted_pull_resumes_without_loss_or_duplicates(network: Make) -> None:
    steward, chapter = await network(STEWARD), await network(CHAPTER_A)
    await steward.publish("public", kind="membership", body=admit(CHAPTER_A))
    await chapter.client.session(steward.ref())
    for _ in range(700):
        await steward.publish("network")
    original = chapter.transport.request
    calls = 0

    async def failing(peer: PeerRef, route: str, body: bytes) -> bytes:
        nonlocal calls
        if route == "records":
            calls += 1
            if calls == 2:
                raise PeerError("connection lost")
        return await original(peer, route, body)

    chapter.transport.request = failing  # type: ignore[method-assign]
    with pytest.raises(PeerError):
        await chapter.client.session(steward.ref())
    assert (await feeds(chapter))[(STEWARD.public_key, "network")] == 500
    # The checkpoint says how far behind what the peer advertised this node is.
    lags = await chapter.store.peers.behind(STEWARD.public_key)
    assert [(lag.audience, lag.theirs, lag.ours) for lag in lags] == [("network", 700, 500)]
    advertised = await chapter.store.peers.advertised_max()
    assert advertised[(STEWARD.public_key, "network")] == 700
    chapter.transport.request = original  # type: ignore[method-assign]
    report = await chapter.client.session(steward.ref())
    assert report.pulled == 200
    assert await feeds(chapter) == await feeds(steward)


async def test_a_retraction_erases_the_body_on_every_node_for_good(network: Make) -> None:
    steward, chapter, other = (
        await network(STEWARD),
        await network(CHAPTER_A),
        await network(CHAPTER_B),
    )
    await steward.publish("public", kind="membership", body=admit(CHAPTER_A))
    await steward.publish("public", kind="membership", body=admit(CHAPTER_B))
    for node in (chapter, other):
        await node.client.session(steward.ref())
    target = await chapter.publish("network")
    await chapter.client.session(steward.ref())
    # The steward still holds the body when the other chapter syncs ...
    await other.client.session(steward.ref())
    stored = await other.store.records.get(target.id)
    assert stored is not None
    assert stored.body is not None
    # ... then the chapter retracts it, and the retraction travels.
    await chapter.publish(
        "network",
        kind="retraction",
        body={"target": target.id.hex(), "reason": "safety"},
    )
    await chapter.client.session(steward.ref())
    await other.client.session(steward.ref())
    for node in (steward, other):
        held = await node.store.records.get(target.id)
        assert held is not None
        assert held.erased
        assert held.body is None
    # A peer that sends the body again does not bring it back.
    fresh = await network(seeded_key("sync late chapter"))
    await steward.publish("public", kind="membership", body=admit(fresh.key))
    await fresh.client.session(steward.ref())
    await fresh.client.session(steward.ref())
    results = await other.service.receive([target])
    assert [r.outcome.value for r in results] == ["duplicate"]
    held = await other.store.records.get(target.id)
    assert held is not None
    assert held.body is None
    # A node that only ever saw the tombstone holds the envelope, never the body.
    tomb = await fresh.store.records.get(target.id)
    assert tomb is not None
    assert tomb.body is None
