"""The node's federation: its sync service, client, gossip tasks and HTTP routes.

Routes under ``/federation/v1/`` carry msgpack. ``sync``, ``records`` and
``push`` accept RFC 9421 signed requests from members only and sign their
answers; ``public/sync`` and ``public/records`` need no signature and serve
only the ``public`` audience, so anyone can mirror public data; their
answers are signed too, unbound to the (unsigned) request. Beyond
``[federation] max_sessions`` requests at once a node answers ``429`` with
``Retry-After``.
"""

import asyncio
import contextlib
import dataclasses
import datetime
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from federation.gossip import Gossip, PeerStats
from federation.httpsig import (
    Authenticator,
    AuthError,
    MessageSigner,
    NotMember,
    SignedRequest,
    SignedResponse,
    headers,
)
from federation.sync import SyncClient, SyncService
from federation.transport import MSGPACK, HttpTransport
from node import __version__
from node.auth import require_role
from node.config import Config
from node.problems import RequestTimeout, TooManyRequests, UnsupportedMediaType
from node.publishing import publish
from node.state import CONFIG, NODE_KEY, STORE, VERIFIER
from protocol.envelope import decode_envelope
from protocol.errors import ProtocolError
from protocol.keys import NodeKey, key_text, parse_key_text
from protocol.kinds import NodeInfo, decode_body
from protocol.records import SignedRecord, VerifiedRecord
from protocol.sync import Want
from storage.store import Store
from storage.tokens import Role

log = structlog.get_logger("banscan.federation")

routes = web.RouteTableDef()
RETRY_AFTER_S = 2
# How often a running node looks for its own records published by another process,
# and the most of them it pushes at once (sync carries the rest).
OWN_FEEDS_POLL_S = 1.0
OWN_PUSH_MAX = 500
SOFTWARE = f"banscan {__version__}"


class Federation:
    """Everything a node needs to federate, built once the store is open."""

    def __init__(self, config: Config, key: NodeKey, store: Store, service: SyncService) -> None:
        self.config = config
        self.key = key
        self.store = store
        self.service = service
        clock_s = lambda: store.clock() / 1000  # noqa: E731
        self.signer = MessageSigner(key, config.network.id, clock_s)
        self.authenticator = Authenticator(config.network.id, store.trust.is_member, clock_s)
        self.session = aiohttp.ClientSession()
        transport = HttpTransport(
            self.session,
            self.signer,
            config.network.id,
            clock_s,
            timeout_s=config.federation.timeout_s,
            max_answer_bytes=config.limits.max_batch_bytes + 64 * 1024,
        )
        self.client = SyncClient(service, transport)
        self.gossip = Gossip(
            self.client,
            fanout=config.federation.fanout,
            interval_s=config.federation.sync_interval_s,
            max_backoff_s=config.federation.max_backoff_s,
            clock_ms=store.clock,
            on_pulled=self._learn,
        )
        service.received = self._received
        self._own_heads: dict[str, int] = {}
        self.slots = asyncio.Semaphore(config.federation.max_sessions)

    async def _received(
        self, records: Sequence[SignedRecord], source: bytes | None, via: str
    ) -> None:
        self.gossip.published(records, source)
        await self._learn(records)

    async def _learn(self, records: Sequence[SignedRecord]) -> None:
        """New ``node`` or ``membership`` records may name new peers or members."""
        kinds = {decode_envelope(record.envelope_bytes).kind for record in records}
        if kinds & {"node", "membership"}:
            await self.discover()
        if "membership" in kinds:
            self.gossip.wake()  # what this node and its peers may hold may have changed

    async def start(self) -> list[asyncio.Task[None]]:
        now = self.store.clock()
        for peer in self.config.peers:
            await self.store.peers.add(parse_key_text(peer.key), peer.url, "config", now)
        # A restart is the operator's way to say "try again now".
        await self.store.peers.retry_all()
        await self.announce()
        await self.discover()
        self._own_heads = await self.store.feeds.heads(self.key.public_key)
        return [
            asyncio.create_task(self.gossip.run_rounds(), name="banscan-gossip"),
            asyncio.create_task(self.gossip.run_pusher(), name="banscan-push"),
            asyncio.create_task(self._discovery_loop(), name="banscan-discovery"),
            asyncio.create_task(self._watch_own_feeds(), name="banscan-own-feeds"),
        ]

    def published_own(self, records: Sequence[VerifiedRecord]) -> None:
        """Push records this node just published (through the API) at once."""
        for record in records:
            env = record.envelope
            self._own_heads[env.audience] = max(self._own_heads.get(env.audience, 0), env.seq)
        self.gossip.published(
            [SignedRecord(r.envelope_bytes, r.signature, r.body) for r in records]
        )

    async def push_new_own(self) -> int:
        """Push this node's own records that another process published (``banscan publish``,
        ``banscan members``): the running node notices them here. Returns how many."""
        heads = await self.store.feeds.heads(self.key.public_key)
        wants = [
            Want(self.key.public_key, audience, max(known, seq - OWN_PUSH_MAX), seq)
            for audience, seq in heads.items()
            if seq > (known := self._own_heads.get(audience, 0))
        ]
        self._own_heads = heads
        if not wants:
            return 0
        # Membership decisions among them must count here before they are pushed.
        await self.store.records.refresh_trust()
        fresh = await self.store.feeds.read(
            wants, max_records=OWN_PUSH_MAX, max_bytes=self.config.limits.max_batch_bytes
        )
        self.gossip.published(fresh)
        await self._learn(fresh)
        return len(fresh)

    async def _watch_own_feeds(self) -> None:
        while True:
            await asyncio.sleep(OWN_FEEDS_POLL_S)
            try:
                await self.push_new_own()
            except Exception:
                log.exception("pushing this node's new records failed")

    async def close(self) -> None:
        await self.session.close()

    async def announce(self) -> None:
        """Publish a ``node`` record when the node's URLs or description changed."""
        node = self.config.node
        if not node.urls:
            return
        wanted = NodeInfo(
            urls=list(node.urls),
            name=node.name or key_text(self.key.public_key),
            city=node.city or None,
            country=node.country or None,
            software=SOFTWARE,
        )
        latest = dict(await self.store.peers.node_records()).get(self.key.public_key)
        if latest is not None and _same_place(decode_body("node", latest), wanted):
            return
        record = await publish(
            self.store.records,
            self.key,
            network_id=self.config.network.id,
            limits=self.config.limits.limits(),
            kind="node",
            audience="public",
            body=wanted.model_dump(exclude_none=True),
            clock=self.store.clock,
        )
        log.info("announced", urls=list(node.urls))
        self.published_own([record])

    async def discover(self) -> None:
        """Add the peers that members' ``node`` records name, and forget discovered peers
        that are no longer members (a suspended or rotated key)."""
        trust = self.store.trust
        for peer in await self.store.peers.all():
            if peer.source == "discovered" and not trust.is_member(peer.key):
                await self.store.peers.remove(peer.key)
        for origin, body in await self.store.peers.node_records():
            if origin == self.key.public_key or not trust.is_member(origin):
                continue
            try:
                info = decode_body("node", body)
            except ProtocolError:
                continue
            assert isinstance(info, NodeInfo)
            await self.store.peers.add(origin, info.urls[0], "discovered", self.store.clock())

    async def _discovery_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.federation.sync_interval_s)
            try:
                await self.discover()
            except Exception:
                log.exception("discovery failed")


def _same_place(held: object, wanted: NodeInfo) -> bool:
    return isinstance(held, NodeInfo) and held.model_dump() == wanted.model_dump()


async def federation_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start federation after the store is open; stop its tasks before the store closes."""
    store = app[STORE]
    service = SyncService(store, app[VERIFIER], app[NODE_KEY].public_key)
    federation = Federation(app[CONFIG], app[NODE_KEY], store, service)
    app[FEDERATION] = federation
    tasks = await federation.start()
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await federation.close()


FEDERATION = web.AppKey("federation", Federation)


def _target_uri(request: web.Request) -> str:
    """The URL the peer signed; behind a TLS proxy the scheme comes from X-Forwarded-Proto."""
    url = request.url
    proto = request.headers.get("X-Forwarded-Proto")
    if proto in ("http", "https"):
        url = url.with_scheme(proto)
    return str(url)


async def _authenticate(federation: Federation, signed: SignedRequest, body: bytes) -> bytes:
    """The signer's key. A key unknown as a member may have been admitted from the CLI
    (another process) since this node last looked: look again, then decide."""
    try:
        return federation.authenticator.verify_request(signed, body)
    except NotMember:
        # The membership check comes before the nonce is claimed, so checking again
        # is no replay.
        await federation.store.records.refresh_trust()
        return federation.authenticator.verify_request(signed, body)


async def _answer(request: web.Request, route: str) -> web.StreamResponse:
    federation = request.app[FEDERATION]
    if request.content_type != MSGPACK:
        raise UnsupportedMediaType(f"federation requests are {MSGPACK}")
    # The body is read before a session slot is taken, and only for so long: a peer
    # that never finishes its request must not hold a slot that honest peers need.
    try:
        async with asyncio.timeout(federation.config.federation.timeout_s):
            body = await request.read()
    except TimeoutError as exc:
        raise RequestTimeout("the request body did not arrive in time; send it whole") from exc
    if federation.slots.locked():
        raise TooManyRequests(
            "this node is serving as many peers as it can; retry later", RETRY_AFTER_S
        )
    async with federation.slots:
        signed: SignedRequest | None = None
        requester: bytes | None = None
        if not route.startswith("public/"):
            signed = SignedRequest(
                request.method, _target_uri(request), headers(request.headers.items())
            )
            try:
                requester = await _authenticate(federation, signed, body)
            except AuthError as exc:
                log.warning(
                    "peer request refused",
                    route=route,
                    code=exc.code,
                    claimed_key=_claimed_key(request),
                )
                raise
        try:
            answer = await federation.service.handle(route, requester, body)
        except ProtocolError as exc:
            if requester is not None:
                await federation.gossip.penalize(requester, f"{route}: {exc.code}: {exc.detail}")
            raise
    response = web.Response(body=answer, content_type=MSGPACK)
    request_part = signed or SignedRequest(request.method, _target_uri(request), headers())
    reply = SignedResponse(200, request_part, headers([("Content-Type", MSGPACK)]))
    federation.signer.sign_response(reply, answer, bound=signed is not None)
    for name in ("Content-Digest", "Signature-Input", "Signature"):
        response.headers[name] = reply.headers[name]
    return response


def _claimed_key(request: web.Request) -> str | None:
    """The keyid a refused request claims, for the log (it proves nothing)."""
    match = re.search(r'keyid="([A-Za-z0-9:_-]{1,80})"', request.headers.get("Signature-Input", ""))
    return match.group(1) if match else None


@routes.post("/federation/v1/sync")
async def sync(request: web.Request) -> web.StreamResponse:
    return await _answer(request, "sync")


@routes.post("/federation/v1/records")
async def records(request: web.Request) -> web.StreamResponse:
    return await _answer(request, "records")


@routes.post("/federation/v1/push")
async def push(request: web.Request) -> web.StreamResponse:
    return await _answer(request, "push")


@routes.post("/federation/v1/public/sync")
async def public_sync(request: web.Request) -> web.StreamResponse:
    return await _answer(request, "public/sync")


@routes.post("/federation/v1/public/records")
async def public_records(request: web.Request) -> web.StreamResponse:
    return await _answer(request, "public/records")


def _ms_iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC).isoformat(
        timespec="milliseconds"
    )


async def peer_views(
    store: Store, stats: Mapping[bytes, PeerStats] | None = None
) -> list[dict[str, Any]]:
    """Each peer as operators see it: last success, failures, backoff and lag per feed.

    ``stats`` are the running node's counters since it started, when known.
    """
    now = store.clock()
    views = []
    for peer in await store.peers.all():
        behind = await store.peers.behind(peer.key)
        counters = (stats or {}).get(peer.key)
        views.append(
            {
                "key": key_text(peer.key),
                "url": peer.url,
                "source": peer.source,
                "role": store.trust.role(peer.key),
                "last_attempt": _ms_iso(peer.last_attempt_ms),
                "last_success": _ms_iso(peer.last_success_ms),
                "failures": peer.failures,
                "last_error": peer.last_error,
                "backoff_until": _ms_iso(peer.backoff_until_ms)
                if peer.backoff_until_ms and peer.backoff_until_ms > now
                else None,
                "behind_records": sum(lag.theirs - lag.ours for lag in behind),
                "behind": [
                    {
                        "origin": key_text(lag.origin),
                        "audience": lag.audience,
                        "theirs": lag.theirs,
                        "ours": lag.ours,
                    }
                    for lag in behind
                ],
                "since_start": dataclasses.asdict(counters) if counters else None,
            }
        )
    return views


@routes.get("/api/v1/federation/peers")
async def list_peers(request: web.Request) -> web.Response:
    await require_role(request, frozenset(Role))
    federation = request.app[FEDERATION]
    return web.json_response({"peers": await peer_views(federation.store, federation.gossip.stats)})
