"""Structured logs: JSON lines, or pretty on a terminal; one summary line per request.

Logs never hold record bodies, submission content, IP addresses or user agents.
"""

import logging
import sys
import time
import uuid
from typing import Literal

import structlog
from aiohttp import web

from node.problems import Handler

log = structlog.get_logger("banscan.request")
# Reports from the public leave no line at all: a timestamped line per report
# could be matched against a network log of who connected when.
UNLOGGED_POSTS = frozenset(
    {"/report", "/report/status", "/api/v1/submissions", "/api/v1/submissions/status"}
)


def configure_logging(level: str, fmt: Literal["auto", "json", "console"]) -> None:
    pretty = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer() if pretty else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


@web.middleware
async def request_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One line per request: method, route, status, duration. Nothing about the client,
    and nothing at all for the routes that take reports from the public."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=uuid.uuid4().hex[:16])
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "(unmatched)"
        if not (request.method == "POST" and route in UNLOGGED_POSTS):
            log.info(
                "request",
                method=request.method,
                route=route,
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
