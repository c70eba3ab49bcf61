"""The node's HTTP connections: aiohttp's protocol, with our answers and limits on slow clients.

aiohttp reads a request's line and headers with no deadline of its own, and a
body as slowly as the client sends it, so a few hundred connections that
dribble bytes (slowloris) would hold the node's sockets for ever. Each
connection of ``banscan run`` is a :class:`NodeConnection`, which adds:

- a header deadline: once the first byte of a request arrives, its line and
  headers must arrive within ``[http] header_timeout_s``;
- a body deadline: once the headers are in, the body must arrive whole within
  ``[http] body_timeout_s`` (federation routes also have their own,
  ``[federation] timeout_s``);
- an idle deadline: a connection with no request under way is closed after
  ``[http] idle_timeout_s`` (aiohttp's keep-alive timeout);
- a cap on the connections one client holds at once,
  ``[http] max_connections_per_client``, the client known by the same keyed
  hash of its address as the rate limits (:mod:`node.abuse`). Behind a proxy
  (``[submissions] trust_forwarded_for``) every connection comes from the
  proxy, so there is no cap: the proxy's own limits apply.

A request past a deadline is answered ``408`` problem+json and its connection
closed; a connection past the cap ``429``. Each is counted in
``banscan_requests_aborted_total`` by reason, and logged by nobody.

aiohttp answers a request line or headers it cannot parse itself, as plain
text, after logging the client's address and the bad bytes; here
:meth:`NodeConnection.handle_error` answers problem+json and logs only the
error's type.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from aiohttp.streams import StreamReader

from node.abuse import counted_as
from node.problems import problem_response
from node.security import SECURITY_HEADERS
from protocol.errors import BanscanError

log = structlog.get_logger("banscan.http")


class BodyTimeout(BanscanError):
    """Raised in the handler reading a body that did not arrive in time. Not an ApiError,
    so that no route mistakes it for a body of its own it refuses."""

    status = 408
    code = "request-timeout"


@dataclass(frozen=True, slots=True)
class SlowClientLimits:
    header_timeout_s: float
    body_timeout_s: float
    idle_timeout_s: float
    max_connections_per_client: int | None  # None: no cap (behind a proxy)


class ClientConnections:
    """How many connections each client holds, by the keyed hash of its address."""

    def __init__(self, limit: int, client_key: Callable[[str], bytes]) -> None:
        self._limit = limit
        self._client_key = client_key
        self._open: dict[bytes, int] = {}

    def open(self, address: str) -> bytes | None:
        """Count a new connection; None when the client already holds its limit."""
        key = self._client_key(address)
        count = self._open.get(key, 0)
        if count >= self._limit:
            return None
        self._open[key] = count + 1
        return key

    def close(self, key: bytes) -> None:
        count = self._open.pop(key, 0) - 1
        if count > 0:
            self._open[key] = count

    @property
    def clients(self) -> int:
        return len(self._open)


def raw_problem(status: int, code: str, detail: str, **headers: str) -> bytes:
    """A whole problem+json answer as bytes, for a connection no request handler owns."""
    response = problem_response(status, code, detail)
    body = response.body
    assert isinstance(body, bytes)
    lines = [
        f"HTTP/1.1 {status} {response.reason}",
        f"Content-Type: {response.headers['Content-Type']}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in SECURITY_HEADERS.items()),
        *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


HEADER_TIMEOUT = raw_problem(
    408, "request-timeout", "the request line and headers did not arrive in time"
)
TOO_MANY_CONNECTIONS = raw_problem(
    429,
    "too-many-requests",
    "this client holds as many connections as the node allows; close one first",
    Retry_After="1",
)
_PARSE_ERROR_DETAIL = "the request line or headers are not valid HTTP/1.1"


class NodeConnection(web.RequestHandler):
    """One client connection (an asyncio protocol), under :class:`SlowClientLimits`."""

    def __init__(
        self,
        server: web.Server,
        *,
        limits: SlowClientLimits,
        clients: ClientConnections | None,
        on_abort: Callable[[str], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(server, keepalive_timeout=limits.idle_timeout_s, **kwargs)
        self._limits = limits
        self._clients = clients
        self._on_abort = on_abort
        self._client: bytes | None = None
        self._refused = False
        self._cut_off = False
        self._header_deadline: asyncio.TimerHandle | None = None
        self._body_deadline: asyncio.TimerHandle | None = None
        self._body: StreamReader | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._clients is not None:
            peer = transport.get_extra_info("peername")
            self._client = self._clients.open(_counted_as(peer))
            if self._client is None:
                self._refused = True
                self._on_abort("too-many-connections")
                assert isinstance(transport, asyncio.Transport)
                transport.write(TOO_MANY_CONNECTIONS)
                # Half-closed rather than closed, so that a request already on its way
                # does not turn the answer into a reset; closed when the client closes
                # (eof_received) or after the header deadline, whichever comes first.
                transport.write_eof()
                self._header_deadline = self._loop.call_later(
                    self._limits.header_timeout_s, transport.close
                )
                return
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._client is not None and self._clients is not None:
            self._clients.close(self._client)
            self._client = None
        self._cancel_deadlines()
        if not self._refused:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._cut_off or self._refused:
            return  # the answer is on its way; the rest is not read
        in_body = self._body is not None and not self._body.is_eof()
        queued = len(self._messages)
        super().data_received(data)
        if self._body is not None and self._body.is_eof():
            self._cancel(self._body_deadline)
            self._body = self._body_deadline = None
        if len(self._messages) > queued:
            # Headers are in; the last request's body (if any) now has its own deadline.
            self._cancel(self._header_deadline)
            self._header_deadline = None
            payload = self._messages[-1][1]
            if not payload.is_eof():
                self._cancel(self._body_deadline)
                self._body = payload
                self._body_deadline = self._loop.call_later(
                    self._limits.body_timeout_s, self._body_too_slow
                )
        elif data and not in_body and self._header_deadline is None:
            self._header_deadline = self._loop.call_later(
                self._limits.header_timeout_s, self._headers_too_slow
            )
            # From a request's first byte its header deadline governs, not the idle one
            # (which aiohttp arms again once the request is answered).
            self._cancel(self._keepalive_handle)
            self._keepalive_handle = None

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's answer to what never reached a route: a request it could not parse
        (400), or a handler's exception (none should escape the problem middleware)."""
        error = type(exc).__name__ if exc is not None else None
        if status == 400:
            log.info("malformed request", error=error)
            response = problem_response(400, "bad-request", _PARSE_ERROR_DETAIL)
        else:
            log.error("unhandled error in the HTTP server", status=status, error=error)
            response = problem_response(
                500, "internal-error", "the node failed to handle this request"
            )
        if request.writer.output_size > 0:
            raise ConnectionError("an answer was already under way")
        response.headers.update(SECURITY_HEADERS)
        response.force_close()
        return response

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self._request_in_progress or self.transport is None:
            return  # the node is answering; the next request's clock starts with its next byte
        self._on_abort("header-timeout")
        self._cut_off = True
        self.transport.write(HEADER_TIMEOUT)
        self.force_close()

    def _body_too_slow(self) -> None:
        self._body_deadline = None
        body, self._body = self._body, None
        if body is None or body.is_eof():
            return
        self._on_abort("body-timeout")
        self._cut_off = True
        # The handler reading the body gets the error, answered 408 by the problem
        # middleware; the connection closes once that answer is sent.
        body.set_exception(
            BodyTimeout(f"the request body did not arrive within {self._limits.body_timeout_s:g} s")
        )
        body.feed_eof()
        self.close()

    def _cancel_deadlines(self) -> None:
        self._cancel(self._header_deadline)
        self._cancel(self._body_deadline)
        self._header_deadline = self._body_deadline = None

    @staticmethod
    def _cancel(handle: asyncio.Handle | None) -> None:
        if handle is not None:
            handle.cancel()


def _counted_as(peer: object) -> str:
    address = peer[0] if isinstance(peer, tuple) and peer else ""
    return counted_as(str(address))


def connection_factory(
    server: web.Server,
    limits: SlowClientLimits,
    clients: ClientConnections | None,
    on_abort: Callable[[str], None],
) -> Callable[[], NodeConnection]:
    """The protocol factory for ``loop.create_server``."""
    loop = asyncio.get_running_loop()

    def connection() -> NodeConnection:
        return NodeConnection(
            server,
            loop=loop,
            limits=limits,
            clients=clients,
            on_abort=on_abort,
            access_log=None,
        )

    return connection
