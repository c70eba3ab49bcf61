"""Sync versions 1 and 2 between real nodes over HTTP on 127.0.0.1 (docs/protocol.md 16-18).

Version 2 vectors carry feed digests, so a fork told to two nodes is found when
they sync and spreads as evidence to a third; a node of version 1 (before
feed digests) still syncs with a node of version 2, either way round.
"""

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from federation.httpsig import MessageSigner, SignedRequest, headers
from federation.sync import PeerRef
from node.app import create_app
from node.config import Config, NetworkSection
from node.state import FEDERATION, STORE
from protocol.keys import NodeKey
from protocol.limits import Limits
from protocol.records import decode_batch, verify_record
from protocol.sync import (
    BUCKETS,
    EntriesRequest,
    PullRequest,
    SyncRequest,
    Want,
    bucket_digests,
    decode_entries_answer,
    decode_sync_answer,
    encode_entries_request,
    encode_pull_request,
    encode_sync_request,
    vector_digest,
)
from protocol.sync2 import feed_digest
from storage.classify import Outcome
from tests.factories import NETWORK, incident_body, seeded_key, signed
from tests.nodeapp import put

STEWARD = seeded_key("versions steward")
CHAPTER_A = seeded_key("versions chapter a")
CHAPTER_B = seeded_key("versions chapter b")
FORKER = seeded_key("versions forker")

Start = Callable[..., Awaitable[TestServer]]


def refuse_version_2(app: web.Application) -> web.Application:
    """Make a node answer as one of sync version 1 does: its decoder refuses the unknown
    ``version`` field with 400 malformed, as problem+json with no signature."""

    @web.middleware
    async def old(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.endswith("/sync") and b"\xa7version" in await request.read():
            problem = {"type": "malformed", "status": 400, "detail": "unknown fields: version"}
            return web.Response(
                status=400, text=json.dumps(problem), content_type="application/problem+json"
            )
        result: web.StreamResponse = await handler(request)
        return result

    app.middlewares.insert(0, old)  # outermost: nothing signs its answer
    return app


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    servers: list[TestServer] = []

    async def start_node(key: NodeKey, *, old: bool = False) -> TestServer:
        config = Config(network=NetworkSection(id=NETWORK, stewards=[STEWARD.text]))
        app = create_app(config, key, tmp_path / f"{key.text[8:16]}.db")
        server = TestServer(refuse_version_2(app) if old else app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return server

    yield start_node
    for server in servers:
        await server.close()


async def admit(steward: TestServer, *keys: NodeKey) -> None:
    for key in keys:
        body = {"subject": key.text, "action": "admit", "role": "chapter", "name": key.text[8:14]}
        await put(steward, "public", "membership", body)


def ref(server: TestServer) -> PeerRef:
    return PeerRef(server.app[FEDERATION].key.public_key, str(server.make_url("")))


async def told(server: TestServer, city: str) -> bytes:
    """The forker's seq 1 of the network audience, told to ``server`` alone."""
    record = signed(FORKER, 1, body=incident_body(city=city), audience="network")
    verified = verify_record(record, network_id=NETWORK, limits=Limits())
    [result] = await server.app[STORE].records.ingest([verified])
    assert result.outcome is Outcome.ACCEPTED
    return record.id


async def test_a_fork_told_to_two_nodes_is_found_and_spreads_to_a_third(start: Start) -> None:
    steward, a, b = await start(STEWARD), await start(CHAPTER_A), await start(CHAPTER_B)
    await admit(steward, CHAPTER_A, CHAPTER_B, FORKER)
    for chapter in (a, b):  # public sessions: each learns it is a member
        assert (await chapter.app[FEDERATION].client.session(ref(steward))).public
    first, second = await told(steward, "Here"), await told(a, "There")

    report = await a.app[FEDERATION].client.session(ref(steward))
    assert report.evidence == 2  # one taken, one pushed
    for node in (steward, a):
        forks = await node.app[STORE].records.forks()
        assert [(f.origin, f.seq) for f in forks] == [(FORKER.public_key, 1)]
        assert {forks[0].first_id, forks[0].second_id} == {first, second}
    # Holding the same envelopes, the two compare equal: the evidence crosses once.
    assert (await a.app[FEDERATION].client.session(ref(steward))).in_sync

    # The third node takes the steward's record, then the evidence in its next session.
    client_b = b.app[FEDERATION].client
    assert (await client_b.session(ref(steward))).pulled >= 1
    # One envelope taken, and its own of the slot pushed back (a duplicate there: the
    # answer does not say whether it differs in the stored envelope or in the evidence).
    assert (await client_b.session(ref(steward))).evidence == 2
    assert await b.app[STORE].records.flagged_origins() == [FORKER.public_key]
    assert (await client_b.session(ref(steward))).in_sync


async def test_a_new_node_syncs_with_an_old_format_node(start: Start) -> None:
    old = await start(STEWARD, old=True)
    new = await start(CHAPTER_A)
    await admit(old, CHAPTER_A)
    await put(old, "network")
    client = new.app[FEDERATION].client
    assert (await client.session(ref(old))).public
    report = await client.session(ref(old))
    assert report.pulled == 1
    assert (await client.session(ref(old))).in_sync
    held = await new.app[STORE].feeds.vector(("network",))
    assert held == await old.app[STORE].feeds.vector(("network",))


async def post_v1(server: TestServer, route: str, body: bytes, key: NodeKey) -> bytes:
    url = str(server.make_url(f"/federation/v1/{route}"))
    request = SignedRequest("POST", url, headers([("Content-Type", "application/msgpack")]))
    MessageSigner(key, NETWORK, time.time).sign_request(request, body)
    async with (
        ClientSession() as session,
        session.post(url, data=body, headers=dict(request.headers)) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.read()


async def test_an_old_format_node_syncs_with_a_new_node(start: Start) -> None:
    """A client of version 1 runs a whole session with version 1 messages only: the
    answers decode with version 1's strict decoders, which refuse any field they do not
    know, and hold the steward's records."""
    steward = await start(STEWARD)
    await admit(steward, CHAPTER_A)
    await put(steward, "network")
    audiences = ("public", "network")
    digest = vector_digest({})
    answer = decode_sync_answer(
        await post_v1(
            steward, "sync", encode_sync_request(SyncRequest(audiences, digest)), CHAPTER_A
        )
    )
    assert not answer.in_sync
    theirs = await steward.app[STORE].feeds.vector(audiences)
    assert list(answer.buckets) == bucket_digests(theirs)
    buckets = tuple(i for i in range(BUCKETS) if answer.buckets[i] != bucket_digests({})[i])
    entries = decode_entries_answer(
        await post_v1(
            steward,
            "sync",
            encode_entries_request(EntriesRequest(audiences, buckets, {})),
            CHAPTER_A,
        )
    ).entries
    assert entries == theirs
    wants = tuple(Want(origin, audience, 0, seq) for (origin, audience), seq in entries.items())
    batch = decode_batch(
        await post_v1(steward, "records", encode_pull_request(PullRequest(wants, 100)), CHAPTER_A),
        Limits(),
    )
    assert len(batch) == sum(entries.values())


async def test_the_feed_digest_covers_the_stored_ids_and_the_evidence(start: Start) -> None:
    steward = await start(STEWARD)
    for _ in range(3):
        await put(steward, "network")
    store = steward.app[STORE]
    feed = (STEWARD.public_key, "network")
    ids = await store.feeds.slot_ids(feed, 0, 3)
    assert (await store.feeds.vector2(("network",)))[feed] == (3, feed_digest([i] for i in ids))
    await put(steward, "network")  # the cached chain is extended
    ids = await store.feeds.slot_ids(feed, 0, 4)
    assert (await store.feeds.vector2(("network",)))[feed] == (4, feed_digest([i] for i in ids))
