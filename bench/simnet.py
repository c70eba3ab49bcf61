"""The dissemination benchmark's network: real nodes in one process, each with its own
SQLite store (a copy of one template holding every node's admission), the real
``SyncService``, ``SyncClient`` and ``Gossip``, over the in-memory ``LocalTransport``
with one shared ``offline`` set and a clock that moves only when a round ends.
``bench/dissemination.py`` drives it round by round.
"""

import asyncio
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgpack

from federation.gossip import Gossip
from federation.service import SyncService
from federation.sync import LocalTransport, SyncClient
from federation.tasks import TaskOwner
from federation.verifier import Verifier
from protocol.keys import NodeKey, key_text
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, sign_record, verify_record
from storage.classify import Outcome
from storage.ingest import ingest_batch
from storage.store import Store
from tests.factories import incident_body, seeded_key

NETWORK = "banthescan"
FANOUT = 3
INTERVAL_S = 30
MAX_BACKOFF_S = 600
STEWARD = seeded_key("banscan-bench-dissemination-steward")
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
OPEN_AT_ONCE = 50


def node_key(index: int) -> NodeKey:
    return seeded_key(f"banscan-bench-dissemination-node-{index}")


class SimClock:
    """The network's clock: it moves only when a round ends."""

    def __init__(self) -> None:
        self.now_ms = START_MS

    def __call__(self) -> int:
        return self.now_ms


@dataclass
class Push:
    records: list[SignedRecord]
    source: bytes | None
    tried: set[bytes] = field(default_factory=set)
    rounds: int = 0


@dataclass
class SimNode:
    index: int
    key: NodeKey
    store: Store
    gossip: Gossip
    # Records that arrived by push since the last push phase, with their sender.
    # (records, the peer they came from, peers already pushed to, pushes made so far)
    inbox: list[Push] = field(default_factory=list)
    seq: int = 0


@dataclass
class Network:
    nodes: list[SimNode]
    offline: set[bytes]
    clock: SimClock
    verifier: Verifier
    index_of: dict[bytes, int]
    size: int  # nodes, online or not
    rng: random.Random  # peer lists, offline nodes and each node's gossip rng
    services: dict[bytes, SyncService] = field(default_factory=dict)
    holders: set[int] = field(default_factory=set)
    watched: bytes = b""  # the id of the record of the current trial

    def online(self) -> list[SimNode]:
        return [n for n in self.nodes if n.key.public_key not in self.offline]

    def saw(self, node: SimNode, records: Sequence[SignedRecord]) -> None:
        if any(record.id == self.watched for record in records):
            self.holders.add(node.index)


# --- building the network ----------------------------------------------------------------


def admissions(count: int) -> list[SignedRecord]:
    return [
        sign_record(
            STEWARD,
            network_id=NETWORK,
            audience="public",
            seq=index + 1,
            created_ms=START_MS - 86_400_000 + index,
            kind="membership",
            body=msgpack.packb(
                {
                    "subject": key_text(node_key(index).public_key),
                    "action": "admit",
                    "role": "chapter",
                    "name": f"node {index}",
                },
                use_bin_type=True,
            ),
        )
        for index in range(count)
    ]


async def template(path: Path, count: int, verifier: Verifier) -> None:
    """One store holding every node's admission."""
    stewards = frozenset({STEWARD.public_key})
    store = await Store.open(path, synchronous="normal", stewards=stewards)
    try:
        records = admissions(count)
        for start in range(0, len(records), 500):
            results = await ingest_batch(
                verifier, store.records, records[start : start + 500], atomic=True
            )
            if any(r.outcome is not Outcome.ACCEPTED for r in results):
                raise RuntimeError(f"admissions not accepted: {results[0]}")
    finally:
        await store.close()


def copy_template(source: Path, target: Path) -> None:
    for suffix in ("", "-wal"):  # the WAL is normally checkpointed away at close
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")


async def open_node(
    network: Network, root: Path, index: int, peers: int, *, forward_pulled: bool
) -> SimNode:
    """Open node ``index``'s copy of the template with its service, transport and gossip,
    and give it ``peers`` peers chosen at random (0: every other node)."""
    key = node_key(index)
    store = await Store.open(
        root / f"node-{index}.db",
        synchronous="normal",
        clock=network.clock,
        stewards=frozenset({STEWARD.public_key}),
    )
    service = SyncService(store, network.verifier, key.public_key)
    network.services[key.public_key] = service
    transport = LocalTransport(key.public_key, network.services)
    transport.offline = network.offline  # one network: every transport sees the same outage
    rng = network.rng
    gossip = Gossip(
        SyncClient(service, transport),
        fanout=FANOUT,
        interval_s=INTERVAL_S,
        max_backoff_s=MAX_BACKOFF_S,
        clock_ms=network.clock,
        tasks=TaskOwner(),
        rng=random.Random(rng.getrandbits(64)),
    )
    node = SimNode(index, key, store, gossip)
    count = network.size
    others = [i for i in range(count) if i != index]
    for other in rng.sample(others, peers) if 0 < peers < len(others) else others:
        await store.peers.add(
            node_key(other).public_key, f"memory://node-{other}", "discovered", START_MS
        )

    async def received(records: Sequence[SignedRecord], source: bytes | None) -> None:
        node.inbox.append(Push(list(records), source))  # what a node's outbox would queue
        network.saw(node, records)

    async def pulled(records: Sequence[SignedRecord]) -> None:
        network.saw(node, records)
        if forward_pulled:
            node.inbox.append(Push(list(records), None))

    service.received = received
    gossip.on_pulled = pulled
    return node


async def build(
    root: Path, count: int, offline_share: float, peers: int, seed: int, *, forward_pulled: bool
) -> Network:
    """``count`` nodes, each holding every admission, with ``offline_share`` of them offline."""
    verifier = Verifier(NETWORK, DEFAULT_LIMITS, threads=1)
    await template(root / "template.db", count, verifier)
    for index in range(count):
        copy_template(root / "template.db", root / f"node-{index}.db")
    network = Network([], set(), SimClock(), verifier, {}, count, random.Random(seed))
    for start in range(0, count, OPEN_AT_ONCE):
        network.nodes.extend(
            await asyncio.gather(
                *(
                    open_node(network, root, i, peers, forward_pulled=forward_pulled)
                    for i in range(start, min(count, start + OPEN_AT_ONCE))
                )
            )
        )
    network.index_of = {n.key.public_key: n.index for n in network.nodes}
    for node in network.rng.sample(network.nodes, round(count * offline_share)):
        network.offline.add(node.key.public_key)
    return network


async def close(network: Network) -> None:
    for node in network.nodes:
        await node.gossip.tasks.close()
        await node.store.close()
    network.verifier.close()


async def publish(network: Network, node: SimNode) -> SignedRecord:
    node.seq += 1
    record = sign_record(
        node.key,
        network_id=NETWORK,
        audience="public",
        seq=node.seq,
        created_ms=network.clock() + 1,
        kind="incident",
        body=msgpack.packb(incident_body(summary=f"record {node.seq}"), use_bin_type=True),
    )
    verified = verify_record(record, network_id=NETWORK, limits=DEFAULT_LIMITS)
    await node.store.records.append(node.key.public_key, "public", lambda _seq: verified)
    return record
