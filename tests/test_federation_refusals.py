"""Error answers under /federation/v1/ are signed, and a refusal the peer did not sign
costs the peer nothing (docs/protocol.md section 15; issue 13, defect 8).

Real node apps on 127.0.0.1; the man in the middle is a real HTTP server between them.
"""

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from federation.httpsig import (
    Authenticator,
    MessageSigner,
    SignedRequest,
    SignedResponse,
    headers,
)
from federation.sync import PeerRef
from node.app import create_app
from node.config import Config, FederationSection, NetworkSection
from node.publishing import publish
from node.state import FEDERATION, STORE
from protocol.keys import NodeKey
from protocol.sync import SyncRequest, encode_sync_request, vector_digest
from tests.factories import NETWORK, seeded_key

STEWARD = seeded_key("refusal steward")
CHAPTER = seeded_key("refusal chapter")
MALLORY = seeded_key("refusal mallory")
SIGNED_PARTS = ("Content-Digest", "Signature-Input", "Signature")


def sync_body() -> bytes:
    return encode_sync_request(SyncRequest(("public",), vector_digest({})))


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    servers: list[TestServer] = []

    async def start(key: NodeKey, **federation: Any) -> TestServer:
        config = Config(
            network=NetworkSection(id=NETWORK, stewards=[STEWARD.text]),
            # No background round during the test: sessions run when the test says.
            federation=FederationSection(sync_interval_s=3600, **federation),
        )
        server = TestServer(create_app(config, key, tmp_path / f"{len(servers)}.db"))
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@dataclass
class Exchange:
    status: int
    body: bytes
    request: SignedRequest
    answer_headers: dict[str, str] = field(default_factory=dict)

    def signer(self, *, bound: bool) -> bytes:
        """The key that signed the answer, checked as a client checks it."""
        check = Authenticator(NETWORK, lambda key: True, time.time)
        answer = SignedResponse(self.status, self.request, headers(self.answer_headers.items()))
        return check.verify_response(answer, self.body, asked=STEWARD.public_key, bound=bound)


async def exchange(
    server: TestServer,
    path: str,
    body: bytes = b"",
    *,
    method: str = "POST",
    key: NodeKey | None = None,
    content_type: str = "application/msgpack",
    network: str = NETWORK,
) -> Exchange:
    url = str(server.make_url(path))
    request = SignedRequest(method, url, headers([("Content-Type", content_type)]))
    if key is not None:
        MessageSigner(key, network, time.time).sign_request(request, body)
    async with (
        ClientSession() as session,
        session.request(method, url, data=body, headers=dict(request.headers)) as response,
    ):
        return Exchange(response.status, await response.read(), request, dict(response.headers))


REFUSALS = [
    # (what, path, method, signer, content type, body, network, status, bound)
    ("not-member", "sync", "POST", MALLORY, "application/msgpack", None, NETWORK, 403, True),
    ("wrong-network", "sync", "POST", CHAPTER, "application/msgpack", None, "other", 401, True),
    ("unsigned", "records", "POST", None, "application/msgpack", None, NETWORK, 401, False),
    ("media-type", "push", "POST", CHAPTER, "text/plain", None, NETWORK, 415, True),
    ("garbage", "public/sync", "POST", None, "application/msgpack", b"\xc1", NETWORK, 400, False),
    ("no-route", "nothing", "POST", CHAPTER, "application/msgpack", None, NETWORK, 404, True),
    ("method", "sync", "GET", None, "application/msgpack", b"", NETWORK, 405, False),
]


async def test_a_refusal_of_a_malformed_signature_is_signed_unbound(
    nodes: Callable[..., Any],
) -> None:
    """Nothing to bind to: the answer is still signed, and never a 500."""
    steward = await nodes(STEWARD)
    url = str(steward.make_url("/federation/v1/sync"))
    garbage = headers(
        [
            ("Content-Type", "application/msgpack"),
            ("Signature-Input", "banscan=(((("),
            ("Signature", "banscan=:not base64:"),
        ]
    )
    async with (
        ClientSession() as session,
        session.post(url, data=sync_body(), headers=dict(garbage)) as response,
    ):
        got = Exchange(
            response.status,
            await response.read(),
            SignedRequest("POST", url, garbage),
            dict(response.headers),
        )
    assert got.status == 401
    assert got.signer(bound=False) == STEWARD.public_key


@pytest.mark.parametrize("case", REFUSALS, ids=[case[0] for case in REFUSALS])
async def test_a_nodes_error_answers_carry_its_signature(
    nodes: Callable[..., Any], case: tuple[Any, ...]
) -> None:
    _, route, method, key, content_type, body, network, status, bound = case
    steward = await nodes(STEWARD)
    got = await exchange(
        steward,
        f"/federation/v1/{route}",
        sync_body() if body is None else body,
        method=method,
        key=key,
        content_type=content_type,
        network=network,
    )
    assert got.status == status
    assert got.answer_headers["Content-Type"].startswith("application/problem+json")
    assert got.signer(bound=bound) == STEWARD.public_key


async def test_an_overloaded_nodes_429_is_signed(nodes: Callable[..., Any]) -> None:
    steward = await nodes(STEWARD, max_sessions=1)
    slots = steward.app[FEDERATION].slots
    await slots.acquire()
    try:
        got = await exchange(steward, "/federation/v1/sync", sync_body(), key=CHAPTER)
    finally:
        slots.release()
    assert got.status == 429
    assert got.signer(bound=True) == STEWARD.public_key


# -- a man in the middle -------------------------------------------------------


class ManInTheMiddle:
    """Forwards to ``upstream`` (keeping ``Host``, so signatures still verify) unless
    ``forge`` gives an answer of its own for the request."""

    def __init__(self, upstream: TestServer) -> None:
        self.upstream = upstream
        self.forge: Callable[[web.Request, bytes], web.Response] | None = None
        self.forged = 0
        self.app = web.Application()
        self.app.router.add_post("/federation/v1/{route:.*}", self.relay)

    async def relay(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.forge is not None:
            self.forged += 1
            return self.forge(request, body)
        async with (
            ClientSession() as session,
            session.post(
                self.upstream.make_url(request.path),
                data=body,
                headers=request.headers,
                skip_auto_headers=("Content-Type",),  # peers send none
            ) as answer,
        ):
            parts = (*SIGNED_PARTS, "Content-Type", "Retry-After")
            passed = {n: answer.headers[n] for n in parts if n in answer.headers}
            return web.Response(status=answer.status, body=await answer.read(), headers=passed)


def problem(status: int) -> bytes:
    return b'{"type": "urn:banscan:problem:too-many-requests", "status": %d}' % status


def unsigned_429(request: web.Request, body: bytes) -> web.Response:
    return web.Response(
        status=429,
        body=problem(429),
        headers={"Content-Type": "application/problem+json", "Retry-After": "3600"},
    )


def signed_by_mallory(request: web.Request, body: bytes) -> web.Response:
    """A refusal properly signed and bound to the request, by a key not the peer's."""
    asked = SignedRequest(request.method, str(request.url), headers(request.headers.items()))
    reply = SignedResponse(403, asked, headers([("Content-Type", "application/problem+json")]))
    MessageSigner(MALLORY, NETWORK, time.time).sign_response(reply, problem(403))
    return web.Response(status=403, body=problem(403), headers=dict(reply.headers))


def replaying(genuine: Exchange) -> Callable[[web.Request, bytes], web.Response]:
    """The peer's own signed refusal of another request, passed off as this one's."""

    def forge(request: web.Request, body: bytes) -> web.Response:
        return web.Response(
            status=genuine.status,
            body=genuine.body,
            headers={n: genuine.answer_headers[n] for n in (*SIGNED_PARTS, "Content-Type")},
        )

    return forge


async def member_behind_a_man_in_the_middle(
    nodes: Callable[..., Any],
) -> tuple[TestServer, TestServer, ManInTheMiddle, TestServer]:
    steward, chapter = await nodes(STEWARD), await nodes(CHAPTER)
    await publish(
        steward.app[STORE].records,
        STEWARD,
        network_id=NETWORK,
        limits=steward.app[FEDERATION].settings.limits,
        kind="membership",
        audience="public",
        body={"subject": CHAPTER.text, "action": "admit", "role": "chapter", "name": "C"},
        clock=steward.app[STORE].clock,
    )
    fed = chapter.app[FEDERATION]
    # Straight to the steward once: the chapter learns it is a member (signed routes).
    await fed.client.session(PeerRef(STEWARD.public_key, str(steward.make_url(""))))
    mitm = ManInTheMiddle(steward)
    relay = TestServer(mitm.app)
    await relay.start_server()
    await chapter.app[STORE].peers.add(
        STEWARD.public_key, str(relay.make_url("")), "cli", int(time.time() * 1000)
    )
    return steward, chapter, mitm, relay


@pytest.mark.parametrize("forgery", ["unsigned-429", "signed-by-another-key", "replayed"])
async def test_a_forged_refusal_does_not_back_off_the_honest_peer(
    nodes: Callable[..., Any], forgery: str
) -> None:
    steward, chapter, mitm, relay = await member_behind_a_man_in_the_middle(nodes)
    try:
        if forgery == "replayed":
            genuine = await exchange(steward, "/federation/v1/sync", b"", key=CHAPTER)
            assert genuine.status == 400  # an empty body: a signed, bound refusal
            mitm.forge = replaying(genuine)
        else:
            mitm.forge = unsigned_429 if forgery == "unsigned-429" else signed_by_mallory
        gossip = chapter.app[FEDERATION].gossip
        store = chapter.app[STORE]
        peer = await store.peers.get(STEWARD.public_key)
        assert peer is not None

        assert await gossip.sync_with(peer) is None  # the session failed...
        assert mitm.forged >= 1
        after = await store.peers.get(STEWARD.public_key)
        assert after is not None
        # ... but it is not held against the steward: no failure counted, no backoff.
        assert after.failures == 0
        assert after.backoff_until_ms is None
        assert "not signed by the peer" in str(after.last_error)
        assert [p.key for p in await gossip.eligible()] == [STEWARD.public_key]

        # The man in the middle steps aside: the next session goes through.
        mitm.forge = None
        assert await gossip.sync_with(after) is not None
    finally:
        await relay.close()


async def test_the_peers_own_signed_refusal_still_backs_it_off(
    nodes: Callable[..., Any],
) -> None:
    """The contrast: a 429 the steward signed is the steward's word, Retry-After and all."""
    steward, chapter, _, relay = await member_behind_a_man_in_the_middle(nodes)
    slots = steward.app[FEDERATION].slots
    taken = steward.app[FEDERATION].settings.max_sessions
    for _ in range(taken):
        await slots.acquire()
    try:
        store = chapter.app[STORE]
        peer = await store.peers.get(STEWARD.public_key)
        assert peer is not None
        assert await chapter.app[FEDERATION].gossip.sync_with(peer) is None
        after = await store.peers.get(STEWARD.public_key)
        assert after is not None
        assert after.failures == 1
        assert after.backoff_until_ms is not None
        assert "HTTP 429" in str(after.last_error)
    finally:
        for _ in range(taken):
            slots.release()
        await relay.close()
