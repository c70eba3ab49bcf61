"""A hostile peer: a member that answers sync sessions badly and sends bad requests.

The hostile peer is a small aiohttp app on 127.0.0.1 with its own node key,
admitted by the steward, so the node under test ("home") syncs with it and
takes its requests. As a server it signs its answers properly, so that what is
tested is their content: forged signatures, tampered bodies, a fork, garbage
msgpack, batches over the limit, answers that never finish; and, apart from
those, answers unsigned, signed by another key, tampered, unbound or replayed.
As a client it sends forged, tampered, replayed, oversized and garbage
requests, and pushes records with bad signatures or bodies, and a fork.

Each is refused or times out and is logged; a failed session backs the peer
off (in the peers table and ``GET /api/v1/federation/peers``); and an honest
member node keeps syncing with home throughout. One test runs home as a real
``banscan run`` process whose own gossip loop meets the hostile peer.

The hostile peer speaks sync version 1 only, as an older node does: it
answers a version 2 request ``400 malformed``, and home falls back. A fork it
tells to home and to the honest node by pull is found when those two sync
(sync version 2's feed digests, docs/protocol.md section 16.1).
"""

import asyncio
import base64
import contextlib
import datetime
import enum
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import pytest
import structlog
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from structlog.typing import EventDict

from federation.httpsig import MessageSigner, SignedRequest, SignedResponse, headers
from federation.runtime import Federation
from federation.sync import Misbehaved, PeerError, SessionReport
from node.app import create_app
from node.config import Config, FederationSection, LimitsSection, NetworkSection
from node.datadir import DataDir
from node.publishing import publish
from node.state import FEDERATION, STORE
from protocol.errors import MalformedError
from protocol.keys import NodeKey
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, decode_batch, encode_batch
from protocol.sync import (
    BUCKET_DIGEST_BYTES,
    BUCKETS,
    EntriesAnswer,
    EntriesRequest,
    Feed,
    PushResult,
    SyncAnswer,
    SyncRequest,
    bucket_of,
    decode_pull_request,
    decode_sync_step,
    encode_entries_answer,
    encode_push_answer,
    encode_sync_answer,
    encode_sync_request,
    vector_digest,
)
from storage.peers import Peer
from storage.store import Store
from storage.tokens import Role
from tests.conftest import node_store
from tests.factories import NETWORK, incident_body, membership, seeded_key, signed
from tests.nodeapp import put
from tests.nodeproc import NodeProcess
from tests.polling import eventually_async

HOME = seeded_key("hostile test: home, the steward")
HONEST = seeded_key("hostile test: an honest chapter")
HOSTILE = seeded_key("hostile test: a hostile chapter")
OUTSIDER = seeded_key("hostile test: an outsider")

MSGPACK = "application/msgpack"
# Home's limits, small so that oversized batches are cheap to send.
MAX_RECORDS = 20
MAX_BATCH_BYTES = 1 << 16
# What home reads of an answer before giving up (FederationSettings.max_answer_bytes).
MAX_ANSWER_BYTES = MAX_BATCH_BYTES + 64 * 1024
TIMEOUT_S = 2  # short, yet ample for an honest exchange on a busy machine

# The hostile peer's genuine feed, and records it forges from it.
GENUINE = [signed(HOSTILE, seq) for seq in (1, 2)]
FORGED_SIGNATURE = SignedRecord(
    GENUINE[1].envelope_bytes, OUTSIDER.sign(GENUINE[1].envelope_bytes), GENUINE[1].body
)
TAMPERED_BODY = SignedRecord(
    GENUINE[1].envelope_bytes,
    GENUINE[1].signature,
    msgpack.packb(incident_body(summary="Rewritten by the hostile peer."), use_bin_type=True),
)
TAMPERED_FIRST = SignedRecord(GENUINE[0].envelope_bytes, GENUINE[0].signature, TAMPERED_BODY.body)
FORK = signed(HOSTILE, 1, body=incident_body(city="Elsewhere"))


def impersonating(victim: NodeKey, seq: int) -> SignedRecord:
    """A record claiming to be ``victim``'s, signed by the hostile key."""
    genuine = signed(victim, seq)
    return SignedRecord(genuine.envelope_bytes, HOSTILE.sign(genuine.envelope_bytes), genuine.body)


class Trick(enum.Enum):
    """How the hostile peer spoils the signing or delivery of one route's answers."""

    NONE = "none"
    UNSIGNED = "unsigned"
    WRONG_KEY = "wrong key"
    TAMPERED = "tampered"
    UNBOUND = "unbound"
    REPLAYED = "replayed"
    NO_HEADERS = "no headers"
    NO_END = "no end"
    OVERSIZED = "oversized"


STALLS = frozenset({Trick.NO_HEADERS, Trick.NO_END})


class HostilePeer:
    """A member's server and client that misbehave on demand.

    By default it answers like an honest peer holding ``feed``; ``answers``
    replaces a route's answer with fixed bytes, and ``trick`` spoils how the
    answers of ``trick_route`` are signed or delivered.
    """

    def __init__(self, key: NodeKey) -> None:
        self.key = key
        self.signer = MessageSigner(key, NETWORK, time.time)
        self.feed: list[SignedRecord] = [GENUINE[0]]
        self.advertised: dict[Feed, int] = {}
        self.answers: dict[str, bytes] = {}
        self.trick = Trick.NONE
        self.trick_route = "records"
        self.stalled = asyncio.Event()
        self.release = asyncio.Event()
        self.sent: dict[str, tuple[dict[str, str], bytes]] = {}
        self.pushed: list[SignedRecord] = []
        self.app = web.Application(client_max_size=64 << 20)
        self.app.add_routes([web.post("/federation/v1/{route:.+}", self._serve)])

    # -- as a server --------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        route = request.match_info["route"].removeprefix("public/")
        body = await request.read()
        try:
            answer = self.answers.get(route) or self._honest_answer(route, body)
        except MalformedError as exc:
            # As a node of sync version 1 answers a version 2 request: 400, malformed.
            return self._refuse(request, exc)
        trick = self.trick if route == self.trick_route else Trick.NONE
        if trick is Trick.NO_HEADERS:
            await self._stall()
        signed_request = SignedRequest(
            request.method, str(request.url), headers(request.headers.items())
        )
        reply = SignedResponse(200, signed_request, headers())
        signer = MessageSigner(OUTSIDER, NETWORK, time.time) if trick is Trick.WRONG_KEY else None
        (signer or self.signer).sign_response(
            reply, answer, bound="Signature" in request.headers and trick is not Trick.UNBOUND
        )
        signature = {
            name: reply.headers[name] for name in ("Content-Digest", "Signature-Input", "Signature")
        }
        if trick is Trick.NONE:
            self.sent[route] = (signature, answer)
        elif trick is Trick.UNSIGNED:
            signature = {}
        elif trick is Trick.TAMPERED:
            answer = answer[:-1] + bytes([answer[-1] ^ 1])
        elif trick is Trick.REPLAYED:
            signature, answer = self.sent[route]
        elif trick in (Trick.NO_END, Trick.OVERSIZED):
            return await self._stream(request, signature, answer, trick)
        return web.Response(body=answer, content_type=MSGPACK, headers=signature)

    def _refuse(self, request: web.Request, exc: MalformedError) -> web.Response:
        problem = json.dumps({"type": exc.code, "status": 400, "detail": exc.detail}).encode()
        signed_request = SignedRequest(
            request.method, str(request.url), headers(request.headers.items())
        )
        reply = SignedResponse(400, signed_request, headers())
        self.signer.sign_response(reply, problem, bound="Signature" in request.headers)
        names = ("Content-Digest", "Signature-Input", "Signature")
        return web.Response(
            status=400,
            body=problem,
            content_type="application/problem+json",
            headers={name: reply.headers[name] for name in names},
        )

    def _honest_answer(self, route: str, body: bytes) -> bytes:
        if route == "sync":
            step = decode_sync_step(body)
            if isinstance(step, EntriesRequest):
                return encode_entries_answer(
                    EntriesAnswer(
                        {
                            feed: seq
                            for feed, seq in self.vector().items()
                            if feed[1] in step.audiences and bucket_of(feed[0]) in step.buckets
                        }
                    )
                )
            # Never in sync: every bucket differs, so every session goes on to pull.
            zero = bytes(BUCKET_DIGEST_BYTES)
            return encode_sync_answer(SyncAnswer(step.audiences, False, (zero,) * BUCKETS))
        if route == "records":
            pull = decode_pull_request(body, DEFAULT_LIMITS.max_batch_records)
            return encode_batch(
                [
                    record
                    for want in pull.wants
                    if (want.origin, want.audience) == (self.key.public_key, "public")
                    for record in self.feed[want.after : want.upto]
                ]
            )
        batch = decode_batch(body, DEFAULT_LIMITS)
        self.pushed.extend(batch)
        return encode_push_answer([PushResult(r.id, "accepted", None) for r in batch])

    def vector(self) -> dict[Feed, int]:
        return {(self.key.public_key, "public"): len(self.feed), **self.advertised}

    async def _stall(self) -> None:
        self.stalled.set()
        await self.release.wait()

    async def _stream(
        self, request: web.Request, signature: Mapping[str, str], answer: bytes, trick: Trick
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": MSGPACK, **signature})
        await response.prepare(request)
        # The client hangs up on either trick; writing after that may fail.
        with contextlib.suppress(ConnectionError):
            if trick is Trick.NO_END:
                await response.write(answer[: len(answer) // 2])
                await self._stall()
            else:
                for _ in range(2 * MAX_ANSWER_BYTES // (1 << 14) + 1):
                    await response.write(bytes(1 << 14))
            await response.write_eof()
        return response

    # -- as a client --------------------------------------------------------

    def sign(self, url: str, body: bytes) -> dict[str, str]:
        request = SignedRequest("POST", url, headers([("Content-Type", MSGPACK)]))
        self.signer.sign_request(request, body)
        return dict(request.headers)

    async def post(self, url: str, body: bytes) -> "Answer":
        """A request signed properly: what is wrong is in the body."""
        return await self.send(url, body, self.sign(url, body))

    async def send(self, url: str, body: bytes, sent: Mapping[str, str]) -> "Answer":
        async with ClientSession() as session, session.post(url, data=body, headers=sent) as got:
            return Answer(got.status, got.content_type, await got.read())


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    def problem(self) -> dict[str, Any]:
        assert self.content_type == "application/problem+json", self.body[:200]
        problem: dict[str, Any] = json.loads(self.body)
        return problem

    def push_results(self) -> list[list[Any]]:
        assert self.status == 200, self.body[:300]
        results: list[list[Any]] = msgpack.unpackb(self.body)
        return results


@dataclass
class Network:
    """Home (the steward), an honest chapter node, and the hostile peer, on 127.0.0.1."""

    home: TestServer
    honest: TestServer
    hostile: HostilePeer
    hostile_server: TestServer
    token: str

    @property
    def home_fed(self) -> Federation:
        return self.home.app[FEDERATION]

    @property
    def home_store(self) -> Store:
        return self.home.app[STORE]

    @property
    def honest_store(self) -> Store:
        return self.honest.app[STORE]

    def url(self, route: str) -> str:
        return str(self.home.make_url(f"/federation/v1/{route}"))

    async def peer(self, key: NodeKey) -> Peer:
        peer = await self.home_store.peers.get(key.public_key)
        assert peer is not None
        return peer

    async def api(self, path: str) -> tuple[int, Any]:
        auth = {"Authorization": f"Bearer {self.token}"}
        async with (
            ClientSession() as session,
            session.get(str(self.home.make_url(path)), headers=auth) as response,
        ):
            return response.status, await response.json(content_type=None)

    async def served(self, record: SignedRecord) -> bool:
        """Whether home serves ``record`` (with an admin token, so any audience)."""
        status, _ = await self.api(f"/api/v1/records/{record.id.hex()}")
        assert status in (200, 404)
        return status == 200


def node_config(steward: NodeKey = HOME) -> Config:
    return Config(
        network=NetworkSection(id=NETWORK, stewards=[steward.text]),
        limits=LimitsSection(max_batch_records=MAX_RECORDS, max_batch_bytes=MAX_BATCH_BYTES),
        # Rounds are driven by the tests; an hour keeps the background loop out of the way.
        federation=FederationSection(timeout_s=TIMEOUT_S, sync_interval_s=3600),
    )


@contextlib.contextmanager
def captured() -> Iterator[list[EventDict]]:
    with structlog.testing.capture_logs() as events:
        yield events


def events_named(events: list[EventDict], name: str) -> list[EventDict]:
    return [e for e in events if e["event"] == name]


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[Network]:
    hostile = HostilePeer(HOSTILE)
    servers = [
        TestServer(create_app(node_config(), HOME, tmp_path / "home.db"), host="127.0.0.1"),
        TestServer(create_app(node_config(), HONEST, tmp_path / "honest.db"), host="127.0.0.1"),
        TestServer(hostile.app, host="127.0.0.1"),
    ]
    for server in servers:
        await server.start_server()
    home, honest, hostile_server = servers
    try:
        store = home.app[STORE]
        network = Network(
            home, honest, hostile, hostile_server, await store.tokens.create(Role.ADMIN, "test")
        )
        for member in (HONEST, HOSTILE):
            await put(home, "public", "membership", membership(member.public_key))
        now = store.clock()
        await store.peers.add(HONEST.public_key, str(honest.make_url("")), "cli", now)
        await store.peers.add(HOSTILE.public_key, str(hostile_server.make_url("")), "cli", now)
        await honest.app[STORE].peers.add(HOME.public_key, str(home.make_url("")), "cli", now)
        # The honest node learns it is a member, then both peers sync once with home.
        honest_gossip = honest.app[FEDERATION].gossip
        await eventually_async(
            lambda: _synced(honest_gossip.sync_with, honest.app[STORE].peers.get(HOME.public_key)),
            "the honest node to sync with home",
        )
        assert honest.app[STORE].trust.role(HONEST.public_key) == "chapter"
        # Home's own gossip may be busy with the hostile peer meanwhile (an eager push of
        # the records above, which may time out on a busy machine and back it off, or a
        # session holding the peer's lock): a session of the fixture's must succeed.
        gossip = network.home_fed.gossip
        report = await eventually_async(
            lambda: _synced_report(gossip.sync_with, network.peer(HOSTILE)),
            "home to sync with the hostile peer",
        )
        assert report is not None
        # The session went both ways: it pushed every record the hostile peer got from
        # home by any way (it lacks them all, to home), and home pulled the hostile
        # peer's one record once, by this session or another.
        assert report.pushed == len({record.id for record in hostile.pushed}) > 0
        assert gossip.stats[HOSTILE.public_key].records_pulled == 1
        assert await network.served(GENUINE[0])
        await exchange(network)
        yield network
    finally:
        hostile.release.set()
        for server in reversed(servers):
            await server.close()


async def _synced(
    sync_with: Callable[[Peer], Awaitable[object]], peer: Awaitable[Peer | None]
) -> bool:
    found = await peer
    assert found is not None
    return await sync_with(found) is not None


async def _synced_report(
    sync_with: Callable[[Peer], Awaitable[SessionReport | None]], peer: Awaitable[Peer]
) -> SessionReport | None:
    return await sync_with(await peer)


def now_true(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    """``check`` as a condition for :func:`until`."""

    async def holds() -> bool:
        return check()

    return holds


async def exchange(net: Network) -> None:
    """A new record each way between home and the honest node, by sessions home starts."""
    from_honest = await put(net.honest, "network", body=incident_body(city="Honestville"))
    from_home = await put(net.home, "network", body=incident_body(city="Hometown"))
    peer = await net.peer(HONEST)

    async def both_hold() -> bool:
        await net.home_fed.gossip.sync_with(peer)
        return (
            await net.home_store.records.get(from_honest) is not None
            and await net.honest_store.records.get(from_home) is not None
        )

    await eventually_async(both_hold, "home and the honest node to exchange records")


async def assert_backed_off(net: Network, error: str) -> None:
    """The hostile peer is in backoff, in the peers table and in the API; honest is not."""
    row = await net.peer(HOSTILE)
    now = net.home_store.clock()
    assert row.failures >= 1
    assert row.last_error is not None
    assert error in row.last_error
    assert row.backoff_until_ms is not None
    assert row.backoff_until_ms > now
    status, body = await net.api("/api/v1/federation/peers")
    assert status == 200
    views = {view["key"]: view for view in body["peers"]}
    hostile, honest = views[HOSTILE.text], views[HONEST.text]
    assert hostile["failures"] >= 1
    assert error in hostile["last_error"]
    assert hostile["backoff_until"] is not None
    backoff_until = datetime.datetime.fromisoformat(hostile["backoff_until"])
    assert backoff_until > datetime.datetime.fromtimestamp(now / 1000, tz=datetime.UTC)
    assert honest["failures"] == 0
    assert honest["last_success"] is not None
    assert honest["backoff_until"] is None
    # Backed off: the next anti-entropy round can only choose the honest peer.
    report = await net.home_fed.gossip.round()
    assert report is not None
    assert report.peer == HONEST.public_key


# -- the hostile peer as a server -------------------------------------------


@dataclass(frozen=True)
class BadServer:
    id: str
    error: type[PeerError]
    match: str
    answers: Mapping[str, bytes] = field(default_factory=dict)  # by route
    trick: Trick = Trick.NONE
    trick_route: str = "records"
    advertised: Mapping[Feed, int] = field(default_factory=dict)


def pulls(batch: list[SignedRecord] | bytes) -> dict[str, bytes]:
    """The hostile peer's answer to every pull."""
    return {"records": batch if isinstance(batch, bytes) else encode_batch(batch)}


def too_many_records() -> bytes:
    """A batch one record over home's limit; its header alone says so."""
    return encode_batch([GENUINE[1]] * (MAX_RECORDS + 1))


BAD_SERVERS = [
    BadServer("forged-signature", Misbehaved, "bad-signature", pulls([FORGED_SIGNATURE])),
    BadServer(
        "impersonates-an-honest-member",
        Misbehaved,
        "bad-signature",
        pulls([impersonating(HONEST, 1)]),
        advertised={(HONEST.public_key, "public"): 1},
    ),
    BadServer("tampered-body", Misbehaved, "body-mismatch", pulls([TAMPERED_BODY])),
    # A fork of the slot home holds can only come as a record that was not asked for.
    BadServer("fork", Misbehaved, "not asked for", pulls([FORK])),
    BadServer("garbage-msgpack", Misbehaved, "malformed", pulls(b"\xc1\xc1 not msgpack")),
    BadServer("garbage-sync-answer", Misbehaved, "malformed", {"sync": b"\xc1 not msgpack"}),
    BadServer(
        "too-many-records", Misbehaved, f"the limit is {MAX_RECORDS}", pulls(too_many_records())
    ),
    BadServer("too-many-bytes", PeerError, f"over {MAX_ANSWER_BYTES} bytes", trick=Trick.OVERSIZED),
    BadServer("body-never-ends", PeerError, "within the timeout", trick=Trick.NO_END),
    BadServer(
        "headers-never-come",
        PeerError,
        "within the timeout",
        trick=Trick.NO_HEADERS,
        trick_route="sync",
    ),
    BadServer(
        "unsigned-answer",
        Misbehaved,
        "failed authentication",
        trick=Trick.UNSIGNED,
        trick_route="sync",
    ),
    BadServer(
        "answer-signed-by-another-key",
        Misbehaved,
        "failed authentication",  # an answer names no key: the peer's own is expected
        trick=Trick.WRONG_KEY,
        trick_route="sync",
    ),
    BadServer("tampered-answer", Misbehaved, "failed authentication", trick=Trick.TAMPERED),
    BadServer(
        "unbound-answer",
        Misbehaved,
        "failed authentication",
        trick=Trick.UNBOUND,
        trick_route="sync",
    ),
    BadServer(
        "replayed-answer",
        Misbehaved,
        "failed authentication",
        trick=Trick.REPLAYED,
        trick_route="sync",
    ),
]


@pytest.mark.parametrize("case", BAD_SERVERS, ids=[case.id for case in BAD_SERVERS])
async def test_a_hostile_server_is_refused_logged_and_backed_off(
    net: Network, case: BadServer
) -> None:
    hostile = net.hostile
    hostile.feed = list(GENUINE)
    hostile.advertised = dict(case.advertised)
    hostile.answers = dict(case.answers)
    hostile.trick, hostile.trick_route = case.trick, case.trick_route
    forks_before = await net.home_store.records.forks()

    with captured() as events:
        session = asyncio.create_task(net.home_fed.gossip.sync_with(await net.peer(HOSTILE)))
        # The honest peer keeps syncing while the hostile session runs, or hangs.
        if case.trick in STALLS:
            await eventually_async(now_true(hostile.stalled.is_set), "the hostile peer to stall")
            await exchange(net)
            assert not session.done()
        else:
            await exchange(net)
        assert await session is None

    [failed] = [e for e in events_named(events, "peer failed") if e["peer"] == HOSTILE.text]
    assert failed["kind"] == case.error.__name__
    assert case.match in failed["error"]
    assert failed["log_level"] == "warning"
    await assert_backed_off(net, case.match)
    # Nothing the hostile peer sent is held, served or counted.
    vector = await net.home_store.feeds.vector(("public",))
    assert vector[(HOSTILE.public_key, "public")] == 1
    assert (HONEST.public_key, "public") not in vector
    for record in (GENUINE[1], FORGED_SIGNATURE, TAMPERED_BODY, FORK, impersonating(HONEST, 1)):
        assert await net.home_store.records.get(record.id) is None
        assert not await net.served(record)
    assert await net.served(GENUINE[0])
    assert await net.home_store.records.forks() == forks_before
    assert (await net.home_store.records.quarantine_totals())[0] == 0
    await exchange(net)


async def test_a_backed_off_peer_is_retried_and_recovers(net: Network) -> None:
    hostile = net.hostile
    hostile.feed = list(GENUINE)
    hostile.answers["records"] = encode_batch([TAMPERED_BODY])
    gossip = net.home_fed.gossip
    for failures in (1, 2):
        assert await gossip.sync_with(await net.peer(HOSTILE)) is None
        assert (await net.peer(HOSTILE)).failures == failures
    assert HOSTILE.public_key not in {p.key for p in await gossip.eligible()}
    await exchange(net)
    # Once it behaves, the next session succeeds and clears its record of failures.
    hostile.answers.clear()
    report = await gossip.sync_with(await net.peer(HOSTILE))
    assert report is not None
    assert report.pulled == 1
    healed = await net.peer(HOSTILE)
    assert (healed.failures, healed.last_error, healed.backoff_until_ms) == (0, None, None)
    assert await net.served(GENUINE[1])


# -- the hostile peer as a client -------------------------------------------


def flip_signature(sent: dict[str, str]) -> dict[str, str]:
    label, _, value = sent["Signature"].partition("=")
    raw = bytearray(base64.b64decode(value.strip(":")))
    raw[0] ^= 1
    return {**sent, "Signature": f"{label}=:{base64.b64encode(bytes(raw)).decode()}:"}


def claim_key(sent: dict[str, str], key: NodeKey) -> dict[str, str]:
    return {**sent, "Signature-Input": sent["Signature-Input"].replace(HOSTILE.text, key.text)}


def sync_request() -> bytes:
    return encode_sync_request(SyncRequest(("public", "network"), vector_digest({})))


async def forged_signature(net: Network) -> Answer:
    body = sync_request()
    url = net.url("sync")
    return await net.hostile.send(url, body, flip_signature(net.hostile.sign(url, body)))


async def impersonation(net: Network) -> Answer:
    body = sync_request()
    url = net.url("sync")
    return await net.hostile.send(url, body, claim_key(net.hostile.sign(url, body), HONEST))


async def tampered_request(net: Network) -> Answer:
    url = net.url("push")
    sent = net.hostile.sign(url, encode_batch([GENUINE[1]]))
    return await net.hostile.send(url, encode_batch([TAMPERED_BODY]), sent)


async def replayed_request(net: Network) -> Answer:
    body = sync_request()
    url = net.url("sync")
    sent = net.hostile.sign(url, body)
    first = await net.hostile.send(url, body, sent)
    assert first.status == 200
    return await net.hostile.send(url, body, sent)


async def replayed_elsewhere(net: Network) -> Answer:
    body = encode_batch([])
    sent = net.hostile.sign(net.url("push"), body)
    return await net.hostile.send(net.url("records"), body, sent)


async def too_many_records_pushed(net: Network) -> Answer:
    return await net.hostile.post(net.url("push"), too_many_records())


async def too_many_bytes_pushed(net: Network) -> Answer:
    return await net.hostile.post(net.url("push"), bytes(2 * MAX_ANSWER_BYTES))


async def garbage_sync(net: Network) -> Answer:
    return await net.hostile.post(net.url("sync"), b"\xc1\xc1 not msgpack")


async def garbage_push(net: Network) -> Answer:
    return await net.hostile.post(net.url("push"), b"\x93\xc1\xc1\xc1")


@dataclass(frozen=True)
class BadRequest:
    id: str
    send: Callable[[Network], Awaitable[Answer]]
    status: int
    code: str


BAD_REQUESTS = [
    BadRequest("forged-signature", forged_signature, 401, "bad-signature"),
    BadRequest("impersonation", impersonation, 401, "bad-signature"),
    BadRequest("tampered-body", tampered_request, 401, "bad-signature"),
    BadRequest("replayed", replayed_request, 401, "replay"),
    BadRequest("replayed-to-another-route", replayed_elsewhere, 401, "bad-signature"),
    BadRequest("too-many-records", too_many_records_pushed, 413, "too-large"),
    BadRequest("too-many-bytes", too_many_bytes_pushed, 413, "too-large"),
    BadRequest("garbage-sync", garbage_sync, 400, "malformed"),
    BadRequest("garbage-push", garbage_push, 400, "malformed"),
]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[case.id for case in BAD_REQUESTS])
async def test_a_hostile_request_is_refused_and_logged(net: Network, case: BadRequest) -> None:
    with captured() as events:
        answer = await case.send(net)
    assert answer.status == case.status
    problem = answer.problem()
    assert problem["type"] == f"urn:banscan:problem:{case.code}"
    assert problem["status"] == case.status
    [line] = [e for e in events_named(events, "request") if e["status"] == case.status]
    assert line["route"].startswith("/federation/v1/")
    if case.status == 401:
        [refused] = events_named(events, "peer request refused")
        assert refused["code"] == case.code
        assert refused["log_level"] == "warning"
    for record in (GENUINE[1], TAMPERED_BODY):
        assert await net.home_store.records.get(record.id) is None
    await exchange(net)


@pytest.mark.parametrize(
    ("pushed", "outcome", "code"),
    [
        (FORGED_SIGNATURE, "rejected", "bad-signature"),
        (TAMPERED_BODY, "rejected", "body-mismatch"),
        (impersonating(HONEST, 1), "rejected", "bad-signature"),
    ],
    ids=["forged-signature", "tampered-body", "impersonation"],
)
async def test_pushed_bad_records_are_refused_and_logged(
    net: Network, pushed: SignedRecord, outcome: str, code: str
) -> None:
    body = encode_batch([pushed])
    with captured() as events:
        answer = await net.hostile.post(net.url("push"), body)
    assert answer.push_results() == [[pushed.id, outcome, code]]
    [held] = events_named(events, "push held bad records")
    assert held["peer"] == HOSTILE.text
    assert held["codes"] == [code]
    assert await net.home_store.records.get(pushed.id) is None
    assert not await net.served(pushed)
    await exchange(net)


async def test_a_pushed_fork_is_kept_as_evidence_and_the_first_is_served(net: Network) -> None:
    body = encode_batch([FORK])
    with captured() as events:
        answer = await net.hostile.post(net.url("push"), body)
    assert answer.push_results() == [[FORK.id, "fork", "fork"]]
    [held] = events_named(events, "push held bad records")
    assert held["codes"] == ["fork"]
    [fork] = await net.home_store.records.forks()
    assert (fork.origin, fork.seq, fork.first_id, fork.second_id) == (
        HOSTILE.public_key,
        1,
        GENUINE[0].id,
        FORK.id,
    )
    status, listed = await net.api("/api/v1/forks")
    assert status == 200
    assert [f["second_id"] for f in listed["forks"]] == [FORK.id.hex()]
    assert await net.served(GENUINE[0])
    assert not await net.served(FORK)
    await exchange(net)


async def test_honest_sync_goes_on_while_hostile_requests_pour_in(net: Network) -> None:
    async def barrage() -> list[int]:
        statuses = []
        for _ in range(3):
            for case in BAD_REQUESTS:
                statuses.append((await case.send(net)).status)
        return statuses

    attack = asyncio.create_task(barrage())
    while not attack.done():
        await exchange(net)
    assert all(status in (401, 413, 400) for status in await attack)
    await exchange(net)


# -- a real node process ----------------------------------------------------


def proc_env() -> dict[str, str]:
    return {
        "BANSCAN_FEDERATION_SYNC_INTERVAL_S": "1",
        "BANSCAN_FEDERATION_TIMEOUT_S": str(TIMEOUT_S),
        "BANSCAN_LOG_FORMAT": "json",
    }


@pytest.mark.slow
async def test_a_node_process_backs_off_the_hostile_peer_and_keeps_syncing(
    tmp_path: Path,
) -> None:
    directory = DataDir(tmp_path / "home")
    home_key = directory.init(NETWORK, [])  # its own steward
    hostile = HostilePeer(HOSTILE)
    hostile.feed = [TAMPERED_FIRST]
    honest_app = create_app(node_config(steward=home_key), HONEST, tmp_path / "honest.db")
    servers = [TestServer(honest_app, host="127.0.0.1"), TestServer(hostile.app, host="127.0.0.1")]
    for server in servers:
        await server.start_server()
    honest, hostile_server = servers
    process: NodeProcess | None = None
    try:
        with directory.config_file.open("a", encoding="utf-8") as config:
            for key, server in ((HOSTILE, hostile_server), (HONEST, honest)):
                config.write(f'\n[[peers]]\nurl = "{server.make_url("")}"\nkey = "{key.text}"\n')
        async with node_store(directory.path) as store:
            for member in (HONEST, HOSTILE):
                await publish(
                    store.records,
                    home_key,
                    network_id=NETWORK,
                    limits=DEFAULT_LIMITS,
                    kind="membership",
                    audience="public",
                    body=membership(member.public_key),
                    clock=store.clock,
                )
            token = await store.tokens.create(Role.ADMIN, "test")
        before = await put(honest, "network", body=incident_body(city="Before"))

        process = NodeProcess(directory.path, proc_env())
        url = await asyncio.to_thread(process.wait_serving)

        async def api(path: str) -> tuple[int, Any]:
            auth = {"Authorization": f"Bearer {token}"}
            async with ClientSession() as session, session.get(url + path, headers=auth) as got:
                return got.status, await got.json(content_type=None)

        async def peers() -> dict[str, Any]:
            status, body = await api("/api/v1/federation/peers")
            assert status == 200
            return {view["key"]: view for view in body["peers"]}

        async def holds(record_id: bytes) -> bool:
            status, _ = await api(f"/api/v1/records/{record_id.hex()}")
            return status == 200

        async def hostile_backed_off() -> bool:
            view = (await peers())[HOSTILE.text]
            return view["failures"] >= 1 and view["backoff_until"] is not None

        await eventually_async(hostile_backed_off, "the process to back off the hostile peer")
        view = (await peers())[HOSTILE.text]
        assert "body-mismatch" in view["last_error"]
        await eventually_async(lambda: holds(before), "the process to pull the honest record")
        # Published after the hostile peer was backed off: gossip still brings it.
        after = await put(honest, "network", body=incident_body(city="After"))
        await eventually_async(lambda: holds(after), "the process to pull the next honest record")

        async def retried() -> bool:
            return bool((await peers())[HOSTILE.text]["failures"] >= 2)

        await eventually_async(retried, "the process to retry the hostile peer after its backoff")
        assert (await peers())[HONEST.text]["last_success"] is not None
        # It pushed too: the honest node learnt from it that it is a member.
        assert honest_app[STORE].trust.role(HONEST.public_key) == "chapter"
        assert not await holds(TAMPERED_FIRST.id)
        # The process logged each failure, as JSON lines on its stderr.
        lines = [json.loads(line) for line in process.stderr_lines if line.startswith("{")]
        failed = [e for e in lines if e.get("event") == "peer failed"]
        assert len(failed) >= 2
        assert {e["peer"] for e in failed} == {HOSTILE.text}
        assert {e["kind"] for e in failed} == {"Misbehaved"}
        assert await asyncio.to_thread(process.stop) == 0
    finally:
        if process is not None:
            process.close()
        hostile.release.set()
        for server in servers:
            await server.close()


async def test_requests_whose_body_never_ends_do_not_starve_honest_peers(net: Network) -> None:
    slots = net.home_fed.settings.max_sessions
    host, port = net.home.host, net.home.port
    assert port is not None
    stalled = []
    try:
        for _ in range(slots):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(
                f"POST /federation/v1/public/sync HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Content-Type: application/msgpack\r\nContent-Length: 1000\r\n\r\n\x82".encode()
            )
            await writer.drain()
            stalled.append((reader, writer))
        # The unfinished bodies are read before a slot is taken: none is held.
        assert not net.home_fed.slots.locked()
        honest = net.honest.app[FEDERATION].gossip
        await eventually_async(
            lambda: _synced(honest.sync_with, net.honest.app[STORE].peers.get(HOME.public_key)),
            "an honest session with home",
            within_s=TIMEOUT_S + 3,
        )
        # Each stalled request is answered 408 once the timeout has passed.
        for reader, _ in stalled:
            status_line = await asyncio.wait_for(reader.readline(), TIMEOUT_S + 10)
            assert status_line.startswith(b"HTTP/1.1 408"), status_line
    finally:
        for _, writer in stalled:
            writer.close()


async def test_a_fork_told_to_two_nodes_is_found_when_they_sync(net: Network) -> None:
    # The hostile peer serves home one seq 2 and the honest node another. (Had either
    # come by push, the eager push onward would have met the other and found the fork.)
    other = signed(HOSTILE, 2, body=incident_body(city="Elsewhere"))
    hostile_url = str(net.hostile_server.make_url(""))
    await net.honest_store.peers.add(HOSTILE.public_key, hostile_url, "cli", 0)
    honest_gossip = net.honest.app[FEDERATION].gossip
    for gossip, store, record in (
        (net.home_fed.gossip, net.home_store, GENUINE[1]),
        (honest_gossip, net.honest_store, other),
    ):
        net.hostile.feed = [GENUINE[0], record]
        peer = await store.peers.get(HOSTILE.public_key)
        assert peer is not None
        assert await gossip.sync_with(peer) is not None
        assert await store.records.get(record.id) is not None
    await exchange(net)
    # Both nodes keep both envelopes as evidence and flag the origin.
    for store in (net.home_store, net.honest_store):
        forks = await store.records.forks()
        assert [(f.origin, f.seq) for f in forks] == [(HOSTILE.public_key, 2)]
        assert {forks[0].second_id, forks[0].first_id} == {GENUINE[1].id, other.id}
        assert await store.records.flagged_origins() == [HOSTILE.public_key]
