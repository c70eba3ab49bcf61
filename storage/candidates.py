"""The rows a duplicate search scores (:mod:`node.moderation.candidates`): open submissions
and current records of one kind and country, dated within a window. Clear columns only."""

from typing import Any, Final

from storage.database import Database
from storage.sql import expand_in, statement
from storage.submissions import OPEN

SCAN: Final = 500  # rows read from each table at most, before scoring
RECORD_COLUMNS: Final = (
    "id",
    "kind",
    "audience",
    "occurred_on",
    "country",
    "city",
    "category",
    "technology",
    "agency",
    "area",
    "lat_e7",
    "lon_e7",
)


async def open_submissions(
    db: Database, *, kind: str, country: str | None, low: str, high: str, besides: str
) -> list[tuple[Any, ...]]:
    """(id, status, received_on, triage JSON) of open submissions other than ``besides``
    whose ``occurred_on`` is from ``low`` to ``high``."""
    marks, statuses = expand_in(OPEN)
    sql = statement(
        "SELECT id, status, received_on, triage FROM submissions "
        "WHERE status IN {marks} AND kind = ? AND id != ? "
        "AND json_extract(triage, '$.country') = ? "
        "AND json_extract(triage, '$.occurred_on') BETWEEN ? AND ? ORDER BY rowid LIMIT ?",
        marks=marks,
    )
    async with db.reader.execute(
        sql, (*statuses, kind, besides, country, low, high, SCAN)
    ) as cursor:
        return [tuple(row) for row in await cursor.fetchall()]


async def current_records(
    db: Database, *, kind: str, country: str | None, low: str, high: str, undated: bool
) -> list[dict[str, Any]]:
    """:data:`RECORD_COLUMNS` of current records (not superseded, retracted or erased),
    newest first; with ``undated``, those without a date too."""
    sql = statement(
        "SELECT {columns} FROM records WHERE kind = ? AND country = ? "
        "AND (occurred_on BETWEEN ? AND ?{undated}) AND superseded_by IS NULL "
        "AND retracted_by IS NULL AND erased_ms IS NULL ORDER BY rid DESC LIMIT ?",
        columns=", ".join(RECORD_COLUMNS),
        undated=" OR occurred_on IS NULL" if undated else "",
    )
    async with db.reader.execute(sql, (kind, country, low, high, SCAN)) as cursor:
        rows = await cursor.fetchall()
    return [dict(zip(RECORD_COLUMNS, row, strict=True)) for row in rows]
