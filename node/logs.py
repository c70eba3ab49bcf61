"""Structured logs: JSON lines, or pretty on a terminal; one summary line per request
(an observer of :mod:`node.timing`).

Logs never hold record bodies, submission content, IP addresses or user agents.
"""

import logging
import sys
from typing import Literal

import structlog

from node.timing import Timing

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


def log_request(timing: Timing) -> None:
    """One line per request: method, route, status, duration. Nothing about the client,
    and nothing at all for the routes that take reports from the public."""
    if timing.method == "POST" and timing.route in UNLOGGED_POSTS:
        return
    log.info(
        "request",
        method=timing.method,
        route=timing.route,
        status=timing.status,
        duration_ms=round(timing.duration_s * 1000, 2),
    )
