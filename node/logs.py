"""Structured logs: JSON lines, or pretty on a terminal; one summary line per request
(an observer of :mod:`node.timing`).

Logs never hold record bodies, submission content, IP addresses or user agents.

Libraries log through the standard :mod:`logging` module (aiohttp's
``aiohttp.server``, ``aiohttp.access``, ``aiohttp.web``, ``aiohttp.client``;
``asyncio``). Their records go through the same pipeline, as JSON lines, with
their message template but never the values formatted into it (aiohttp's
"Error handling request from %s" would name the client's address), and an
exception only by its type (aiohttp's parser errors quote the bytes received).
"""

import logging
import re
import sys
from typing import Literal

import structlog

from node.timing import Timing

log = structlog.get_logger("banscan.request")
# Reports from the public, and reporters' answers to the moderators, leave no line at
# all: a timestamped line per report could be matched against a network log of who
# connected when.
UNLOGGED_POSTS = frozenset(
    {
        "/report",
        "/report/status",
        "/report/answer",
        "/api/v1/submissions",
        "/api/v1/submissions/status",
        "/api/v1/submissions/answer",
    }
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
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, LibraryRecords):
            root.removeHandler(handler)
    root.addHandler(LibraryRecords())
    root.setLevel(level.upper())


# printf-style placeholders of a message template: %s, %r, %d, %(name)s, %.2f ...
_PLACEHOLDER = re.compile(r"%(\([^)]*\))?[-#0 +]*(\*|\d+)?(\.(\*|\d+))?[diouxXeEfFgGcrsa]")


class LibraryRecords(logging.Handler):
    """Hands a library's log record to structlog, keeping only what cannot identify anyone."""

    def emit(self, record: logging.LogRecord) -> None:
        event = _PLACEHOLDER.sub("(withheld)", str(record.msg))
        fields: dict[str, object] = {"logger": record.name}
        if record.exc_info is not None and record.exc_info[0] is not None:
            fields["error"] = record.exc_info[0].__name__
        structlog.get_logger(record.name).log(record.levelno, event, **fields)


def log_request(timing: Timing) -> None:
    """One line per request: method, route, status, duration. Nothing about the client,
    and nothing at all for the routes that take reports from the public."""
    if timing.method == "POST" and timing.route in UNLOGGED_POSTS:
        return
    log.info(
        "request" if timing.status is not None else "request abandoned by the client",
        method=timing.method,
        route=timing.route,
        status=timing.status,
        duration_ms=round(timing.duration_s * 1000, 2),
    )
