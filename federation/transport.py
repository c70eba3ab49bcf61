"""Sync over HTTP: signed requests out, signed answers checked (docs/protocol.md section 15).

Every request to a peer's ``/federation/v1/<route>`` is signed with this
node's key (RFC 9421, :mod:`federation.httpsig`), and the answer must be
signed by the key this node expects for that peer and bound to the request,
so a node can trust what a peer says without TLS. Requests to the ``public/``
routes are not signed; their answers are, but cannot be bound to a request.

A peer that answers too slowly (``timeout_s`` for the whole exchange), too
much (over the batch limit), or with anything but a good answer raises
:class:`~federation.sync.PeerError`; a ``429`` carries its ``Retry-After``.
Error answers are signed like the others; one that the peer did not sign
raises :class:`UnattributedAnswer` instead, which does not count against the
peer, so that a man in the middle cannot make this node back off an honest
peer by answering for it.
"""

import json

import aiohttp
import structlog

from federation.httpsig import (
    Authenticator,
    AuthError,
    Clock,
    MessageSigner,
    SignedRequest,
    SignedResponse,
    headers,
)
from federation.sync import Misbehaved, PeerError, PeerRef
from protocol.keys import key_text

MSGPACK = "application/msgpack"
PREFIX = "/federation/v1/"
log = structlog.get_logger("banscan.federation")


class UnattributedAnswer(PeerError):
    """An error answer that the peer did not sign (or that is not bound to the request):
    anyone on the path may have sent it, so it says nothing about the peer. The session
    fails, but ``federation.gossip`` neither counts it among the peer's failures nor
    backs the peer off (docs/protocol.md section 15)."""


# Headers aiohttp would add that a peer does not read: answers are msgpack, never
# compressed, and say who sent them in their signature; a request's body is always
# msgpack too (docs/protocol.md section 15), so it has no Content-Type
# (bench/README.md, "bench/insync.py").
_UNUSED_REQUEST_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class HttpTransport:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        signer: MessageSigner,
        network_id: str,
        clock: Clock,
        *,
        timeout_s: float,
        max_answer_bytes: int,
    ) -> None:
        self._session = session
        self._signer = signer
        # Answers are checked against the key expected for the peer, not against
        # membership: a node that has not yet learnt who the members are must
        # still be able to sync with its bootstrap peer.
        self._answers = Authenticator(network_id, lambda key: True, clock)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_answer = max_answer_bytes

    async def request(self, peer: PeerRef, route: str, body: bytes) -> bytes:
        url = peer.url.rstrip("/") + PREFIX + route
        signed = not route.startswith("public/")
        request = SignedRequest("POST", url, headers())
        if signed:
            self._signer.sign_request(request, body)
        try:
            async with self._session.post(
                url,
                data=body,
                headers=dict(request.headers),
                timeout=self._timeout,
                skip_auto_headers=_UNUSED_REQUEST_HEADERS,
            ) as response:
                answer = await _read_capped(response, self._max_answer)
                if response.status != 200:
                    raise self._refusal(peer, route, request, response, answer, bound=signed)
                self._check_answer(peer, request, response, answer, bound=signed)
                return answer
        except TimeoutError as exc:
            raise PeerError(f"{route}: no complete answer within the timeout") from exc
        except aiohttp.ClientError as exc:
            # The HTTP client's own text goes to this node's log, not into last_error,
            # which the peers route shows.
            log.info("peer request failed", url=url, error=f"{type(exc).__name__}: {exc}")
            raise PeerError(f"{route}: {_failure(exc)}") from exc

    def _refusal(
        self,
        peer: PeerRef,
        route: str,
        request: SignedRequest,
        response: aiohttp.ClientResponse,
        body: bytes,
        *,
        bound: bool,
    ) -> PeerError:
        """The error for an answer other than 200: the peer's own refusal when the peer
        signed it, else an :class:`UnattributedAnswer` (its status, text and
        ``Retry-After`` may be anyone's)."""
        try:
            self._check_answer(peer, request, response, body, bound=bound)
        except Misbehaved as exc:
            return UnattributedAnswer(
                f"{route}: an HTTP {response.status} answer not signed by the peer "
                f"(ignored: {exc.detail})",
                unsigned_status=response.status,
            )
        return PeerError(
            f"{route}: HTTP {response.status}: {_problem_detail(body)}",
            peer_status=response.status,
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )

    def _check_answer(
        self,
        peer: PeerRef,
        request: SignedRequest,
        response: aiohttp.ClientResponse,
        body: bytes,
        *,
        bound: bool,
    ) -> None:
        signed = SignedResponse(response.status, request, headers(response.headers.items()))
        try:
            signer = self._answers.verify_response(signed, body, asked=peer.key, bound=bound)
        except AuthError as exc:
            raise Misbehaved(f"the peer's answer failed authentication: {exc.detail}") from exc
        if signer != peer.key:
            raise Misbehaved(
                f"the answer is signed by {key_text(signer)}, not by the peer's key "
                f"{key_text(peer.key)}"
            )


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise PeerError(f"the answer is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _failure(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "cannot connect to the peer"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the peer closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the peer's answer was cut short or garbled"
    return "the HTTP exchange with the peer failed"


def _problem_detail(body: bytes) -> str:
    try:
        problem = json.loads(body)
        return str(problem.get("detail") or problem.get("title"))[:300]
    except (ValueError, AttributeError):
        return body[:120].decode("utf-8", "replace")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
