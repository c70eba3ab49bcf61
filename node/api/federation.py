"""Federation's HTTP routes, and the wiring that starts federation with the app.

Routes under ``/federation/v1/`` carry msgpack. ``sync``, ``records`` and
``push`` accept RFC 9421 signed requests from members only and sign their
answers; ``public/sync`` and ``public/records`` need no signature and serve
only the ``public`` audience, so anyone can mirror public data; their
answers are signed too, unbound to the (unsigned) request. Beyond
``[federation] max_sessions`` requests at once a node answers ``429`` with
``Retry-After``. What federation does beyond answering is ``federation``'s
(``federation.runtime``).
"""

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import structlog
from aiohttp import web

from federation.gossip import PeerStats
from federation.httpsig import AuthError, SignedRequest, SignedResponse, headers
from federation.runtime import Federation
from federation.settings import Announcement, FederationSettings
from federation.transport import MSGPACK, PREFIX
from node import __version__
from node.auth import require_role
from node.config import Config
from node.problems import Handler, RequestTimeout, TooManyRequests, UnsupportedMediaType
from node.publishing import publish
from node.state import CONFIG, FEDERATION, NODE_KEY, STORE, TASKS, VERIFIER
from protocol.errors import ProtocolError
from protocol.keys import key_text, parse_key_text
from protocol.records import VerifiedRecord
from protocol.utc import utc_text
from storage.store import Store
from storage.tokens import Role

log = structlog.get_logger("banscan.federation")

routes = web.RouteTableDef()
RETRY_AFTER_S = 2
SOFTWARE = f"banscan {__version__}"


def federation_settings(config: Config, own_key: bytes) -> FederationSettings:
    """What federation needs of the node's configuration."""
    node = config.node
    announcement = Announcement(
        urls=tuple(node.urls),
        name=node.name or key_text(own_key),
        city=node.city or None,
        country=node.country or None,
        software=SOFTWARE,
    )
    federation = config.federation
    return FederationSettings(
        network_id=config.network.id,
        limits=config.limits.limits(),
        peers=tuple((parse_key_text(peer.key), peer.url) for peer in config.peers),
        announcement=announcement if node.urls else None,
        fanout=federation.fanout,
        sync_interval_s=federation.sync_interval_s,
        timeout_s=federation.timeout_s,
        max_sessions=federation.max_sessions,
        max_backoff_s=federation.max_backoff_s,
    )


async def federation_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start federation after the store is open, its tasks on the app's task owner
    (which stops them first at cleanup); close its HTTP client before the store closes."""
    store, key, config = app[STORE], app[NODE_KEY], app[CONFIG]

    async def publish_own(kind: str, audience: str, body: dict[str, Any]) -> VerifiedRecord:
        return await publish(
            store.records,
            key,
            network_id=config.network.id,
            limits=config.limits.limits(),
            kind=kind,
            audience=audience,
            body=body,
            clock=store.clock,
        )

    federation = Federation(
        federation_settings(config, key.public_key),
        key,
        store,
        app[VERIFIER],
        publish=publish_own,
        tasks=app[TASKS],
    )
    app[FEDERATION] = federation
    try:
        await federation.start()
        yield
    finally:
        await federation.close()


def _target_uri(request: web.Request) -> str:
    """The URL the peer signed; behind a TLS proxy the scheme comes from X-Forwarded-Proto."""
    url = request.url
    proto = request.headers.get("X-Forwarded-Proto")
    if proto in ("http", "https"):
        url = url.with_scheme(proto)
    return str(url)


async def _answer(request: web.Request, route: str) -> web.StreamResponse:
    federation = request.app[FEDERATION]
    # Peers send no Content-Type (a federation body is always msgpack); another type is
    # a client that has come to the wrong place.
    if "Content-Type" in request.headers and request.content_type != MSGPACK:
        raise UnsupportedMediaType(f"federation requests are {MSGPACK}")
    # The body is read before a session slot is taken, and only for so long: a peer
    # that never finishes its request must not hold a slot that honest peers need.
    try:
        async with asyncio.timeout(federation.settings.timeout_s):
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
                requester = await federation.authenticate(signed, body)
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
    # Signed on its way out, as every answer under /federation/v1/ is.
    return web.Response(body=answer, content_type=MSGPACK)


@web.middleware
async def sign_answers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sign every answer under ``/federation/v1/``, errors (problem+json) included, so
    that a man in the middle cannot pass a refusal of its own off as the peer's
    (docs/protocol.md section 15). Placed outside the problem middleware, it sees the
    problem that an error became."""
    response = await handler(request)
    federation = request.app.get(FEDERATION)
    if not request.path.startswith(PREFIX) or federation is None:
        return response
    if not isinstance(response, web.Response) or "Signature" in response.headers:
        return response
    body = response.body if isinstance(response.body, bytes) else b""
    asked = SignedRequest(request.method, _target_uri(request), headers(request.headers.items()))
    # Bound to the request's own signature, as a 200 answer is, so that a signed refusal
    # cannot be replayed to another request; unbound when there is none to bind to.
    bound = not request.path.startswith(PREFIX + "public/") and "Signature" in request.headers
    reply = SignedResponse(response.status, asked, headers())
    federation.signer.sign_response(reply, body, bound=bound)
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
    return None if ms is None else utc_text(ms, "isoformat")


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
