"""One middleware times every request; the request log and the metrics observe it.

It binds a fresh request id to the log context (structlog contextvars), so that
every line logged while a request is served carries it, and once the answer's
status is known hands a :class:`Timing` to each observer the app lists under
:data:`OBSERVERS`: :func:`node.logs.log_request` and
:meth:`node.metrics.Metrics.observe`. A route is named by its template
(``/api/v1/records/{id}``), never by the path asked for.

A request whose client went away before it was answered
(:class:`node.problems.ClientGone`) has no status: its timing says so with
``status=None``, and aiohttp is handed an answer that is never sent.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from node.problems import ClientGone, Handler


@dataclass(frozen=True, slots=True)
class Timing:
    """One request, answered: nothing about the client."""

    method: str
    route: str  # the matched route's template; "(unmatched)" when none matched
    status: int | None  # None: the client went away before it was answered
    duration_s: float


Observer = Callable[[Timing], None]
OBSERVERS = web.AppKey("request_observers", tuple[Observer, ...])


@web.middleware
async def timing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=uuid.uuid4().hex[:16])
    started = time.perf_counter()
    status: int | None = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except ClientGone:
        status = None
        # Never sent: aiohttp drops an answer it cannot write, without a log line.
        return web.Response(status=400)
    finally:
        resource = request.match_info.route.resource
        timing = Timing(
            method=request.method,
            route=resource.canonical if resource is not None else "(unmatched)",
            status=status,
            duration_s=time.perf_counter() - started,
        )
        for observe in request.app[OBSERVERS]:
            observe(timing)
