"""What changes with the UTC day without a write: which records requests are overdue
(past ``due_on`` today) and which actions are open. Answers showing it are kept by day.

Pages say so with ``node.web.site.daily_page``; the API's routes are
:data:`DAILY_ROUTES`, whose kept answers :func:`node.reads.read_middleware` keys by
:func:`daily_key`, so an answer kept just before midnight is not served after it.
"""

import datetime
from typing import Final

DAILY_ROUTES: Final = frozenset({"/api/v1/requests", "/api/v1/actions", "/api/v1/actions/osdi"})


def utc_day(clock_ms: int) -> str:
    """The UTC date of a moment in milliseconds, as an ISO date (2026-12-07)."""
    return datetime.datetime.fromtimestamp(clock_ms / 1000, datetime.UTC).date().isoformat()


def daily_key(route: str, path_qs: str, clock_ms: int) -> str | None:
    """The answer cache's key for a route in :data:`DAILY_ROUTES` (the day, then the
    path and query); None for any other route (the path and query alone)."""
    return f"{utc_day(clock_ms)} {path_qs}" if route in DAILY_ROUTES else None
