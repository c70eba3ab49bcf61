"""API errors and the middleware that answers every error as RFC 9457 problem+json.

Each error has a stable ``type`` (``urn:banscan:problem:<code>``), an HTTP
status and a human ``detail`` that names what was wrong. Internal text and
stack traces never reach a client: an unexpected exception is logged and
answered with a generic 500.

    ApiError                          (any status)
    ├── BadParameter          400     bad-parameter   a query or path parameter
    ├── BadRequest            400     bad-request     a malformed request body
    ├── Unauthorized          401     unauthorized    missing or unknown token
    ├── Forbidden             403     forbidden       the token's role may not do this
    ├── NotFound              404     not-found
    ├── UnsupportedMediaType  415     unsupported-media-type
    └── node.moderation.submissions.SubmissionError      422 invalid-submission
        ├── SubmissionsClosed                 503 submissions-closed
        ├── SubmissionNotFound                404 not-found
        └── ModerationConflict                409 moderation-conflict

:class:`protocol.errors.ProtocolError` and :class:`storage.StorageError`
carry their own status and code and are answered the same way.
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from protocol.errors import ProtocolError
from storage import StorageError

PROBLEM_TYPE_PREFIX = "urn:banscan:problem:"
PROBLEM_CONTENT_TYPE = "application/problem+json"
log = structlog.get_logger("banscan.api")

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


class ApiError(Exception):
    status = 400
    code = "bad-request"

    def __init__(
        self, detail: str, *, status: int | None = None, code: str | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
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


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported-media-type"


def problem_response(status: int, code: str, detail: str, **extensions: Any) -> web.Response:
    body = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": code.replace("-", " ").capitalize(),
        "status": status,
        "detail": detail,
        **extensions,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="banscan"'} if status == 401 else {}
    if status == 429 and "retry_after_s" in extensions:
        headers["Retry-After"] = str(extensions["retry_after_s"])
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
    except ApiError as exc:
        return problem_response(exc.status, exc.code, exc.detail, **exc.extensions)
    except ProtocolError as exc:
        return problem_response(exc.status, exc.code, exc.detail)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http-error")
        detail = _http_detail(request, exc)
        response = problem_response(exc.status, code, detail)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except StorageError as exc:
        log.error("storage error", code=exc.code)
        return problem_response(exc.status, exc.code, "the node's storage is not available")
    except Exception:
        log.exception("unhandled error")
        return problem_response(500, "internal-error", "the node failed to handle this request")


def _http_detail(request: web.Request, exc: web.HTTPException) -> str:
    if exc.status == 404:
        return f"no such resource: {request.path}"
    if exc.status == 405:
        return f"method {request.method} is not allowed on {request.path}"
    if exc.status == 413:
        return "request body is larger than this node accepts (see [limits] max_batch_bytes)"
    return exc.reason
