"""Moments as UTC text: the one formatter of milliseconds since the Unix epoch.

Every place that shows a moment (CLI tables, JSON answers, export files, file
names) formats it here, in one of these styles::

    "date"        2026-03-01                       a day (a report's receipt, file names)
    "seconds"     2026-03-01 12:34:56Z             CLI tables
    "rfc3339"     2026-03-01T12:34:56.789Z         exports
    "isoformat"   2026-03-01T12:34:56.789+00:00    Python's isoformat, as the peers route says
    "basic"       20260301T123456Z                 ISO 8601 basic format, for file names
    "basic-date"  20260301

The arithmetic is on integers, so a millisecond is never rounded away, and a
day's text is computed once per day seen: an export formats one moment per row.
"""

import datetime
import functools
from typing import Final, Literal

Style = Literal["date", "seconds", "rfc3339", "isoformat", "basic", "basic-date"]

_MS_PER_DAY: Final = 86_400_000
_EPOCH_ORDINAL: Final = datetime.date(1970, 1, 1).toordinal()


def utc_text(ms: int, style: Style = "seconds") -> str:
    """``ms`` milliseconds since the epoch, as UTC text in ``style``."""
    days, millis = divmod(ms, _MS_PER_DAY)
    day = _date(days)
    if style == "date":
        return day
    if style == "basic-date":
        return day.replace("-", "")
    seconds, millis = divmod(millis, 1000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if style == "seconds":
        return f"{day} {clock}Z"
    if style == "rfc3339":
        return f"{day}T{clock}.{millis:03d}Z"
    if style == "isoformat":
        return f"{day}T{clock}.{millis:03d}+00:00"
    return f"{day.replace('-', '')}T{clock.replace(':', '')}Z"


@functools.lru_cache(maxsize=256)
def _date(days: int) -> str:
    return datetime.date.fromordinal(_EPOCH_ORDINAL + days).isoformat()
