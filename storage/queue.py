"""The moderators' queue: submissions filtered on their clear triage fields, a page at
a time, and the counts a queue shows beside its filters, all computed by SQLite.

The triage fields are a JSON column (:mod:`storage.submissions`); ``json_extract``
reads them in SQL, so no count loops over rows in Python. A node holds at most
thousands of submissions, and the filters start from the ``(status,
received_on)`` index.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from storage.database import Database
from storage.sql import expand_in, statement
from storage.submissions import COLUMNS, Submission, submission_row

# Each facet: its SQL over a submissions row. Names are fixed here, never taken from input.
FACET_SQL: Final = {
    "kind": "kind",
    "country": "json_extract(triage, '$.country')",
    "city": "json_extract(triage, '$.city')",
    "category": "json_extract(triage, '$.category')",
    "technology": "json_extract(triage, '$.technology')",
    "received_on": "received_on",
}
MAX_FACET_VALUES: Final = 100


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What a queue shows: each given condition must hold; values of one facet are ORed."""

    status: str | None = None
    kind: str | None = None
    triage: Mapping[str, Sequence[str]] = field(default_factory=dict)
    received_from: str | None = None
    received_to: str | None = None
    newest: bool = False


def _where(queue: QueueFilter) -> tuple[list[str], list[str]]:
    conditions: list[str] = []
    params: list[str] = []
    if queue.status is not None:
        conditions.append("status = ?")
        params.append(queue.status)
    if queue.kind is not None:
        conditions.append("kind = ?")
        params.append(queue.kind)
    for name, values in queue.triage.items():
        if values:
            marks, bound = expand_in(values)
            conditions.append(statement("{column} IN {marks}", column=FACET_SQL[name], marks=marks))
            params.extend(bound)
    if queue.received_from is not None:
        conditions.append("received_on >= ?")
        params.append(queue.received_from)
    if queue.received_to is not None:
        conditions.append("received_on <= ?")
        params.append(queue.received_to)
    return conditions, params


async def queue_page(
    db: Database, queue: QueueFilter, *, after: int = 0, limit: int = 100
) -> list[tuple[int, Submission]]:
    """One page in arrival order (newest first with ``newest``), from the position
    ``after`` on (0: from the start): (position, submission)."""
    conditions, params = _where(queue)
    if after:
        conditions.append("rowid < ?" if queue.newest else "rowid > ?")
        params.append(str(after))
    sql = statement(
        "SELECT rowid, {columns} FROM submissions WHERE {where} ORDER BY rowid {order} LIMIT ?",
        columns=COLUMNS,
        where=" AND ".join(conditions) or "1",
        order="DESC" if queue.newest else "ASC",
    )
    async with db.reader.execute(sql, (*params, limit)) as cursor:
        rows = await cursor.fetchall()
    return [(int(row[0]), submission_row(row[1:])) for row in rows]


async def facet_counts(db: Database, status: str | None) -> dict[str, dict[str, int]]:
    """For the submissions of ``status`` (all when None): how many have each value of each
    facet, most frequent first, at most :data:`MAX_FACET_VALUES` each. A field a
    submission lacks counts under ``""``."""
    where, params = ("status = ?", [status]) if status is not None else ("1", [])
    parts = [
        statement(
            "SELECT '{name}', coalesce({column}, ''), count(*) FROM submissions "
            "WHERE {where} GROUP BY 2",
            name=name,
            column=column,
            where=where,
        )
        for name, column in FACET_SQL.items()
    ]
    sql = " UNION ALL ".join(parts) + " ORDER BY 1, 3 DESC, 2"
    counts: dict[str, dict[str, int]] = {name: {} for name in FACET_SQL}
    async with db.reader.execute(sql, params * len(parts)) as cursor:
        for name, value, count in await cursor.fetchall():
            values = counts[str(name)]
            if len(values) < MAX_FACET_VALUES:
                values[str(value)] = int(count)
    return counts
