"""API errors and the middleware that answers every error as RFC 9457 problem+json.

Each problem has a stable ``type`` (``urn:banscan:problem:<code>``), an HTTP
status and a human ``detail`` that names what was wrong. Every error of the
tree drawn in :mod:`protocol.errors` (:class:`~protocol.errors.BanscanError`
and its subclasses, :class:`ApiError` among them) is answered with its own
status and code. Internal text and stack traces never reach a client: a class
whose detail may hold them has a ``public_detail``, and an unexpected
exception is logged and answered with a generic 500.

A client that closes its connection before it is answered (an upload cut off
mid-body, a download abandoned) is no error of the node: the middleware
raises :class:`ClientGone`, which :mod:`node.timing` counts apart, and nothing
is answered or logged. A 408 closes the connection: what the client sends
after it would be read as a new request.
"""

import json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import structlog
from aiohttp import web

from protocol.errors import BanscanError

PROBLEM_TYPE_PREFIX = "urn:banscan:problem:"
PROBLEM_CONTENT_TYPE = "application/problem+json"
log = structlog.get_logger("banscan.api")

_KNOWN_STATUSES = frozenset(status.value for status in HTTPStatus)
_HTTP_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
}


class ApiError(BanscanError):
    """An error of the HTTP API; ``extensions`` become members of the problem."""

    status = 400
    code = "bad-request"

    def __init__(
        self, detail: str, *, status: int | None = None, code: str | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.extensions = extensions
        self.headers: dict[str, str] = {}
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class BadParameter(ApiError):
    code = "bad-parameter"

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(f"{parameter}: {detail}", parameter=parameter)


class BadRequest(ApiError):
    code = "bad-request"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not-found"


class RequestTimeout(ApiError):
    status = 408
    code = "request-timeout"


class ClientGone(Exception):
    """The client closed the connection before it was answered; there is no one to answer."""


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported-media-type"


class TooManyRequests(ApiError):
    """Answered with ``Retry-After``; the report routes also name it in the body."""

    status = 429
    code = "too-many-requests"

    def __init__(self, detail: str, retry_after_s: int, *, in_body: bool = False) -> None:
        if in_body:
            super().__init__(detail, retry_after_s=retry_after_s)
        else:
            super().__init__(detail)
        self.headers["Retry-After"] = str(retry_after_s)


def problem_response(status: int, code: str, detail: str, **extensions: Any) -> web.Response:
    body = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": code.replace("-", " ").capitalize(),
        "status": status,
        "detail": detail,
        **extensions,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="banscan"'} if status == 401 else {}
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BanscanError as exc:
        response = error_response(exc)
        if response.status == 408:
            response.force_close()
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http-error")
        detail = _http_detail(request, exc)
        response = problem_response(exc.status, code, detail)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        if isinstance(exc, ConnectionError) and client_gone(request):
            raise ClientGone from exc
        log.exception("unhandled error")
        return problem_response(500, "internal-error", "the node failed to handle this request")


def client_gone(request: web.BaseRequest) -> bool:
    """Whether the client's connection is closed or closing (reads and writes fail)."""
    transport = request.transport
    return transport is None or transport.is_closing()


def error_response(exc: BanscanError) -> web.Response:
    """The problem answering one error of the tree; private detail goes to the log only."""
    if exc.public_detail is not None:
        log.error("error kept from the client", code=exc.code, detail=exc.detail)
        return problem_response(exc.status, exc.code, exc.public_detail)
    extensions = exc.extensions if isinstance(exc, ApiError) else {}
    response = problem_response(exc.status, exc.code, exc.detail, **extensions)
    if isinstance(exc, ApiError):
        response.headers.update(exc.headers)
    return response


def _http_detail(request: web.Request, exc: web.HTTPException) -> str:
    if exc.status == 404:
        return f"no such resource: {request.path}"
    if exc.status == 405:
        return f"method {request.method} is not allowed on {request.path}"
    if exc.status == 413:
        return "request body is larger than this node accepts (see [limits] max_batch_bytes)"
    # The standard phrase, not exc.reason or exc.text, which aiohttp may have worded.
    return HTTPStatus(exc.status).phrase if exc.status in _KNOWN_STATUSES else "HTTP error"
