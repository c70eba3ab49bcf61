"""Federation over real HTTP: two node apps on 127.0.0.1, signed both ways."""

import base64
import datetime
import hashlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

from federation.httpsig import (
    REQUEST_COMPONENTS,
    MessageSigner,
    SignedRequest,
    headers,
    network_tag,
)
from federation.sync import PeerError, PeerRef
from node.app import create_app
from node.config import Config, FederationSection, NetworkSection
from node.state import FEDERATION, STORE
from protocol.keys import NodeKey
from protocol.sync import SyncRequest, Want, encode_sync_request, vector_digest
from tests.factories import NETWORK, seeded_key
from tests.nodeapp import put

STEWARD = seeded_key("http steward")
CHAPTER = seeded_key("http chapter")
OUTSIDER = seeded_key("http outsider")

Start = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def start(tmp_path: Path) -> Any:
    servers: list[TestServer] = []

    async def start_node(key: NodeKey, **federation: Any) -> TestServer:
        config = Config(
            network=NetworkSection(id=NETWORK, stewards=[STEWARD.text]),
            federation=FederationSection(**federation),
        )
        app = create_app(config, key, tmp_path / f"{key.text[8:16]}.db")
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return server

    yield start_node
    for server in servers:
        await server.close()


def ref(server: TestServer) -> PeerRef:
    return PeerRef(server.app[FEDERATION].key.public_key, str(server.make_url("")))


async def test_a_member_syncs_over_signed_http(start: Start) -> None:
    steward, chapter = await start(STEWARD), await start(CHAPTER)
    await put(
        steward,
        "public",
        "membership",
        {"subject": CHAPTER.text, "action": "admit", "role": "chapter", "name": "Chapter"},
    )
    await put(steward, "network")
    await put(steward, "coordinators")
    client = chapter.app[FEDERATION].client
    first = await client.session(ref(steward))
    assert first.public  # not yet a member in its own view: the public routes
    second = await client.session(ref(steward))
    assert not second.public
    assert second.pulled == 1  # the network record; never the coordinators one
    third = await client.session(ref(steward))
    assert third.in_sync
    assert third.round_trips == 1


async def test_an_answer_signed_by_another_key_is_refused(start: Start) -> None:
    steward = await start(STEWARD)
    chapter = await start(CHAPTER)
    impostor = PeerRef(OUTSIDER.public_key, str(steward.make_url("")))
    # Its answer names no key: checked against the key the chapter expects, it fails.
    with pytest.raises(PeerError, match="failed authentication"):
        await chapter.app[FEDERATION].client.session(impostor)


def sync_body() -> bytes:
    return encode_sync_request(SyncRequest(("public",), vector_digest({})))


async def post(
    server: TestServer,
    route: str,
    body: bytes,
    *,
    key: NodeKey | None = None,
    network: str = NETWORK,
    clock: float | None = None,
    replay: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    url = str(server.make_url(f"/federation/v1/{route}"))
    request = SignedRequest("POST", url, headers([("Content-Type", "application/msgpack")]))
    if key is not None:
        now = clock if clock is not None else time.time()
        MessageSigner(key, network, lambda: now).sign_request(request, body)
    sent = replay or dict(request.headers)
    async with (
        ClientSession() as session,
        session.post(url, data=body, headers=sent) as response,
    ):
        data = await response.read()
        # A 200 answer is msgpack and says so by having no Content-Type (section 15).
        parsed = (
            await response.json(content_type=None)
            if response.content_type == "application/problem+json"
            else msgpack.unpackb(data)
        )
        return response.status, parsed, sent


@pytest.mark.parametrize(
    ("signer", "options", "status", "code"),
    [
        (None, {}, 401, "unsigned"),
        (OUTSIDER, {}, 403, "not-member"),
        (STEWARD, {"network": "othernet"}, 401, "wrong-network"),
        (STEWARD, {"clock": time.time() - 3600}, 401, "stale"),
        (STEWARD, {"clock": time.time() + 3600}, 401, "future"),
    ],
)
async def test_refused_requests(
    start: Start, signer: NodeKey | None, options: dict[str, Any], status: int, code: str
) -> None:
    server = await start(CHAPTER)
    for route in ("sync", "records", "push"):
        got, problem, _ = await post(server, route, sync_body(), key=signer, **options)
        assert got == status
        assert problem["type"] == f"urn:banscan:problem:{code}"


def loosely_signed(url: str, body: bytes, *, expires_after: int, digest: str) -> dict[str, str]:
    """The steward's request signed by the RFC 9421 package directly, with a window and a
    ``Content-Digest`` that our own signer would never write."""
    request = SignedRequest("POST", url, headers([("Content-Type", "application/msgpack")]))
    request.headers["Content-Digest"] = digest
    created = datetime.datetime.fromtimestamp(int(time.time()), tz=datetime.UTC)

    class Keys(HTTPSignatureKeyResolver):
        def resolve_private_key(self, key_id: str) -> Any:
            return STEWARD.private_key

    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=Keys()).sign(
        request,
        key_id=STEWARD.text,
        created=created,
        expires=created + datetime.timedelta(seconds=expires_after),
        nonce=f"loose-{expires_after}-{digest[:7]}",
        label="banscan",
        tag=network_tag(NETWORK),
        covered_component_ids=REQUEST_COMPONENTS,
        use_existing_digest=True,
    )
    return dict(request.headers)


def digest_of(body: bytes, algorithm: str) -> str:
    value = base64.b64encode(hashlib.new(algorithm.replace("-", ""), body).digest()).decode()
    return f"{algorithm}=:{value}:"


@pytest.mark.parametrize(
    ("expires_after", "algorithm", "status", "code"),
    [
        (300, "sha-256", 200, None),
        (-10, "sha-256", 401, "stale"),  # expires before created
        (300, "sha-512", 401, "bad-signature"),  # section 15 requires sha-256
    ],
    ids=["as-specified", "expires-before-created", "sha-512-only"],
)
async def test_a_signature_looser_than_the_profile_is_refused(
    start: Start, expires_after: int, algorithm: str, status: int, code: str | None
) -> None:
    server = await start(CHAPTER)
    url = str(server.make_url("/federation/v1/sync"))
    sent = loosely_signed(
        url, sync_body(), expires_after=expires_after, digest=digest_of(sync_body(), algorithm)
    )
    got, answer, _ = await post(server, "sync", sync_body(), replay=sent)
    assert got == status
    if code is not None:
        assert answer["type"] == f"urn:banscan:problem:{code}"


async def test_a_replayed_request_is_refused(start: Start) -> None:
    server = await start(CHAPTER)
    status, _, sent = await post(server, "sync", sync_body(), key=STEWARD)
    assert status == 200
    status, problem, _ = await post(server, "sync", sync_body(), replay=sent)
    assert status == 401
    assert problem["type"] == "urn:banscan:problem:replay"


async def test_public_routes_need_no_signature_and_serve_only_public(start: Start) -> None:
    steward = await start(STEWARD)
    await put(steward, "public")
    await put(steward, "network")
    status, answer, _ = await post(steward, "public/sync", sync_body())
    assert status == 200
    assert answer["audiences"] == ["public"]
    assert answer["in_sync"] is False
    asked = encode_sync_request(SyncRequest(("network",), vector_digest({})))
    status, problem, _ = await post(steward, "public/sync", asked)
    assert status == 403
    assert problem["type"] == "urn:banscan:problem:audience-not-allowed"


async def test_garbage_is_a_400_naming_the_problem(start: Start) -> None:
    server = await start(CHAPTER)
    status, problem, _ = await post(server, "sync", b"\xc1\xc1garbage", key=STEWARD)
    assert status == 400
    assert "msgpack" in problem["detail"]


async def test_an_overloaded_node_answers_429_with_retry_after(start: Start) -> None:
    server = await start(CHAPTER, max_sessions=1)
    slots = server.app[FEDERATION].slots
    await slots.acquire()
    try:
        url = str(server.make_url("/federation/v1/public/sync"))
        async with (
            ClientSession() as session,
            session.post(
                url, data=sync_body(), headers={"Content-Type": "application/msgpack"}
            ) as response,
        ):
            assert response.status == 429
            assert int(response.headers["Retry-After"]) >= 1
    finally:
        slots.release()


async def test_a_push_from_a_member_is_stored(start: Start) -> None:
    steward, chapter = await start(STEWARD), await start(CHAPTER)
    await put(
        steward,
        "public",
        "membership",
        {"subject": CHAPTER.text, "action": "admit", "role": "chapter", "name": "Chapter"},
    )
    client = chapter.app[FEDERATION].client
    await client.session(ref(steward))  # learns its membership
    await put(chapter, "network")
    held = await chapter.app[STORE].feeds.read(
        [Want(CHAPTER.public_key, "network", 0, 1)], max_records=10, max_bytes=1 << 20
    )
    results = await client.push(ref(steward), held)
    assert [r.outcome for r in results] == ["accepted"]
