"""Exact counts of the current campaign records, from their query columns.

``GET /api/v1/stats/campaign`` and ``banscan stats --campaign`` answer with these:
agencies by type and country, vendors, policies by status, instrument and
country, records requests by status, law and country and how many are overdue,
actions by type and how many are open. One grouped pass per kind over the
indexed columns (``country``, ``category``, ``status``, ``due_on``,
``occurred_on``); no body is decoded. Only current records count: not
superseded, not retracted, not erased, of the audiences asked for.

``category`` holds each kind's type (an agency's type, a policy's instrument,
a request's law, an action's type; :mod:`storage.columns`). "Overdue" and
"open" are judged on ``today`` exactly as the lists judge them
(:func:`storage.campaignreads.overdue_sql`, :func:`storage.campaignreads.open_sql`).

Measured on bench/agencypage.py's store at scale 0.05 (2,500 agencies, 5,000
policies, 2,500 requests, 500 actions beside 50,000 cameras): p50 10 ms, on a
loaded 2-core machine. The cost grows with the campaign records (about 200 ms
expected at scale 1); a covering index or a rollup would be the next step.
"""

from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

import aiosqlite

from storage.campaignreads import open_sql, overdue_sql
from storage.sql import expand_in, statement

# Per kind: the name in the answer, and the answer's name of each grouped column.
SECTIONS: Final = {
    "agency": ("agencies", {"category": "by_type", "country": "by_country"}),
    "vendor": ("vendors", {}),
    "policy": (
        "policies",
        {"status": "by_status", "category": "by_instrument", "country": "by_country"},
    ),
    "records_request": (
        "requests",
        {"status": "by_status", "category": "by_law", "country": "by_country"},
    ),
    "action": ("actions", {"category": "by_type", "country": "by_country"}),
}
# The count of a condition judged on today, per kind that has one.
_FLAGS: Final = {"records_request": ("overdue", overdue_sql), "action": ("open", open_sql)}


async def campaign_stats(
    reader: aiosqlite.Connection, audiences: Sequence[str], today: str
) -> dict[str, dict[str, Any]]:
    """``{section: {"total": n, "by_...": {value: n}, ["overdue" | "open"]: n}}`` for
    the current records of ``audiences``; a record without a value counts under ``""``."""
    marks, audience_params = expand_in(tuple(audiences))
    answer: dict[str, dict[str, Any]] = {}
    for kind, (section, grouped) in SECTIONS.items():
        columns = ["r.country", "r.category", "r.status"]
        flag_name, flag_sql = _FLAGS.get(kind, ("", None))
        flag, flag_params = flag_sql(today) if flag_sql else ("0", [])
        sql = statement(
            "SELECT {columns}, COUNT(*), SUM(CASE WHEN {flag} THEN 1 ELSE 0 END)"
            " FROM records r WHERE r.kind = ? AND r.audience IN {marks}"
            " AND r.superseded_by IS NULL AND r.retracted_by IS NULL AND r.erased_ms IS NULL"
            " GROUP BY {columns}",
            columns=", ".join(columns),
            flag=flag,
            marks=marks,
        )
        counters = {name: Counter[str]() for name in grouped.values()}
        total = flagged = 0
        async with reader.execute(sql, [*flag_params, kind, *audience_params]) as cursor:
            async for country, category, status, count, hits in cursor:
                values = {"country": country, "category": category, "status": status}
                total += count
                flagged += hits
                for column, name in grouped.items():
                    counters[name][values[column] or ""] += count
        entry: dict[str, Any] = {"total": total}
        entry.update({name: dict(sorted(c.items())) for name, c in counters.items()})
        if flag_name:
            entry[flag_name] = flagged
        answer[section] = entry
    return answer
