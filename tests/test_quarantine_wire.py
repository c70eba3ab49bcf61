"""Quarantined records cross the wire once (issue 13, defect 9), between real nodes over HTTP.

The source node counts two stewards; the second one's ``membership`` record
admits an origin whose records the source holds. The fresh node counts only
the source as a steward, so those records wait in its quarantine
(docs/protocol.md section 7.1) and its vector does not count them. Neither
its sessions with the source (pull) nor the source's sessions with it (push)
send them again.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from federation.sync import PeerRef
from node.app import create_app
from node.config import Config, NetworkSection
from node.publishing import publish
from node.state import FEDERATION, STORE
from protocol.keys import NodeKey
from protocol.limits import Limits
from protocol.records import verify_record
from storage.classify import Outcome
from tests.factories import NETWORK, incident_body, seeded_key, signed

SOURCE = seeded_key("quarantine wire: source steward")
SECOND = seeded_key("quarantine wire: a steward the fresh node does not know")
ORIGIN = seeded_key("quarantine wire: an origin only the second steward admitted")
FRESH = seeded_key("quarantine wire: the fresh node")
RECORDS = 5

Start = Callable[[NodeKey, list[NodeKey]], Awaitable[TestServer]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    servers: list[TestServer] = []

    async def start_node(key: NodeKey, stewards: list[NodeKey]) -> TestServer:
        config = Config(network=NetworkSection(id=NETWORK, stewards=[s.text for s in stewards]))
        server = TestServer(create_app(config, key, tmp_path / f"{key.text[8:16]}.db"))
        await server.start_server(host="127.0.0.1")
        servers.append(server)
        return server

    yield start_node
    for server in servers:
        await server.close()


def ref(server: TestServer) -> PeerRef:
    return PeerRef(server.app[FEDERATION].key.public_key, str(server.make_url("")))


async def setup(start: Start) -> tuple[TestServer, TestServer]:
    source = await start(SOURCE, [SOURCE, SECOND])
    fresh = await start(FRESH, [SOURCE])
    app = source.app
    await publish(
        app[STORE].records,
        app[FEDERATION].key,
        network_id=NETWORK,
        limits=app[FEDERATION].settings.limits,
        kind="membership",
        audience="public",
        body={"subject": FRESH.text, "action": "admit", "role": "chapter", "name": "fresh"},
        clock=app[STORE].clock,
    )
    admit: dict[str, Any] = {
        "subject": ORIGIN.text,
        "action": "admit",
        "role": "chapter",
        "name": "origin",
    }
    batch = [signed(SECOND, 1, body=admit, kind="membership")]
    batch += [
        signed(ORIGIN, seq, body=incident_body(summary=f"record {seq}"), audience="network")
        for seq in range(1, RECORDS + 1)
    ]
    verified = [verify_record(r, network_id=NETWORK, limits=Limits()) for r in batch]
    results = await app[STORE].records.ingest(verified)
    assert all(r.outcome is Outcome.ACCEPTED for r in results)
    return source, fresh


async def test_quarantined_records_are_pulled_once(start: Start) -> None:
    source, fresh = await setup(start)
    client = fresh.app[FEDERATION].client
    first = await client.session(ref(source))  # public: its admission, and SECOND's record
    assert first.public
    second = await client.session(ref(source))  # signed: ORIGIN's records, quarantined
    assert not second.public
    assert second.pulled == RECORDS
    assert await fresh.app[STORE].records.quarantine_totals() != (0, 0)
    again = await client.session(ref(source))
    assert not again.in_sync  # its vector does not count what waits in the quarantine
    assert again.pulled == 0
    assert again.bytes_received < 2000


async def test_quarantined_records_are_pushed_once(start: Start) -> None:
    source, fresh = await setup(start)
    await fresh.app[FEDERATION].client.session(ref(source))  # learns it is a member
    client = source.app[FEDERATION].client
    first = await client.session(ref(fresh))
    assert first.pushed == RECORDS + 1  # SECOND's membership record and ORIGIN's records
    count, _ = await fresh.app[STORE].records.quarantine_totals()
    assert count == RECORDS + 1
    again = await client.session(ref(fresh))
    assert again.pushed == 0
    assert again.bytes_sent < 2000
