"""Filtered reads over incidents and deployments: pages, full scans, aggregates, coverage.

Every read here works on the indexed query columns of ``records`` (filled at
insert time, see :mod:`storage.columns`) and never decodes a body, except
coverage, which decodes each chapter's latest small ``node`` record. What a
read selects is a :class:`~storage.filters.QueryFilter`; aggregates are
:mod:`storage.stats`, which reads the rollup of :mod:`storage.rollup`
whenever it answers exactly.

Only current records are visible: a record that a later version supersedes,
or that a retraction withdrew, or whose body was erased, never shows.

Pages are keyset-paginated on ``(sort key, rid)``: a page starts strictly
after the last row of the previous one, so records inserted between pages
cause neither gaps nor repeats among the records that were already there.
"""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import aiosqlite

from protocol.envelope import decode_envelope
from protocol.kinds import NodeInfo, decode_body
from storage import facets
from storage import stats as aggregates
from storage.campaignstats import campaign_stats
from storage.database import BUSY_TIMEOUT_MS, Database
from storage.filters import QueryFilter, where_clause
from storage.sql import expand_in, statement
from storage.stats import Stats, StatsGroup
from storage.stored import StoredRecord

SortKey = Literal["created", "occurred", "due"]
SortOrder = tuple[SortKey, bool]  # (key, descending)
CursorKey = tuple[int | str, int]  # (the last row's sort value, its rid)

_SORT_SQL = {
    "created": "r.created_ms",
    "occurred": "COALESCE(r.occurred_on, '')",
    "due": "COALESCE(r.due_on, '~')",  # after every date: no due date comes last
}
_ROW_COLUMNS = (
    "r.rid, r.envelope, r.signature, b.body, r.created_ms, r.country, r.region, r.city,"
    " r.category, r.technology, r.agency, r.status, r.occurred_on, r.area, r.lat_e7, r.lon_e7,"
    " r.agency_ref, r.due_on"
)
ITERATE_PAGE = 1000
# rid, id, origin, audience, created_ms, body: a current record as exports read it.
BodyRow = tuple[int, bytes, bytes, str, int, bytes]


@dataclass(frozen=True, slots=True)
class QueryRow:
    """One current record with its query columns (what :meth:`RecordQueries.page` and
    :meth:`RecordQueries.iterate` yield): exporters read columns without decoding bodies."""

    record: StoredRecord
    created_ms: int
    country: str | None
    region: str | None
    city: str | None
    category: str | None
    technology: str | None
    agency: str | None
    status: str | None
    occurred_on: str | None
    area: str | None
    lat_e7: int | None
    lon_e7: int | None
    agency_ref: bytes | None = None  # the campaign kinds' columns (storage.columns)
    due_on: str | None = None

    def cursor_key(self, sort: SortKey) -> CursorKey:
        """Where a page ending at this row ends, for the next page's ``after``."""
        value: int | str = (
            self.created_ms
            if sort == "created"
            else (self.occurred_on or "" if sort == "occurred" else self.due_on or "~")
        )
        return (value, self.record.rid)


@dataclass(frozen=True, slots=True)
class FeedCoverage:
    audience: str
    max_seq: int
    latest_created_ms: int | None


@dataclass(slots=True)
class ChapterCoverage:
    origin: bytes
    name: str | None
    city: str | None
    country: str | None
    records: dict[str, int] = field(default_factory=dict)
    feeds: list[FeedCoverage] = field(default_factory=list)


class RecordQueries:
    """Reads over the current incidents and deployments, on the reader connection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(
        self,
        query: QueryFilter,
        sort: SortOrder = ("created", True),
        after: CursorKey | None = None,
        limit: int = 100,
    ) -> list[QueryRow]:
        """Up to ``limit`` rows in ``sort`` order, starting strictly after ``after``."""
        key, descending = sort
        where, params = where_clause(query)
        if after is not None:
            where += f" AND ({_SORT_SQL[key]}, r.rid) {'<' if descending else '>'} (?, ?)"
            params.extend(after)
        direction = "DESC" if descending else "ASC"
        order = f"ORDER BY {_SORT_SQL[key]} {direction}, r.rid {direction}"
        # Pick the page's rids first, then read their rows and bodies: joining bodies
        # before the LIMIT would read the body of every matching record.
        sql = statement(
            "SELECT {columns} FROM "
            "(SELECT r.rid FROM records r WHERE {where} {order} LIMIT ?) AS p "
            "JOIN records r ON r.rid = p.rid LEFT JOIN bodies b ON b.rid = r.rid {order}",
            columns=_ROW_COLUMNS,
            where=where,
            order=order,
        )
        async with self._db.reader.execute(sql, (*params, limit)) as cursor:
            return [_row(values) async for values in cursor]

    async def iterate(
        self, query: QueryFilter, *, page: int = ITERATE_PAGE
    ) -> AsyncIterator[QueryRow]:
        """Every matching row, oldest ``created_ms`` first (ties in arrival order), ``page``
        rows at a time, so memory stays constant however many rows match."""
        after: CursorKey | None = None
        while True:
            rows = await self.page(query, ("created", False), after, page)
            for row in rows:
                yield row
            if len(rows) < page:
                return
            after = rows[-1].cursor_key("created")

    async def body_pages(
        self, query: QueryFilter, *, page: int = ITERATE_PAGE
    ) -> AsyncGenerator[list[BodyRow], None]:
        """Every matching record that has a body, in :meth:`iterate`'s order, as
        :data:`BodyRow` tuples in lists of up to ``page``: what CSV and GeoJSON exports
        read, without decoding envelopes or passing each row through an iterator.

        The next page is read while the caller works on this one (SQLite runs on the
        reader's thread), so at most two pages are held."""
        where, params = where_clause(query)
        order = "ORDER BY r.created_ms, r.rid"

        async def read(after: Sequence[Any]) -> list[BodyRow]:
            cursor = " AND (r.created_ms, r.rid) > (?, ?)" if after else ""
            sql = statement(
                "SELECT r.rid, r.id, r.origin, r.audience, r.created_ms, b.body FROM "
                "(SELECT r.rid FROM records r WHERE {where}{cursor} {order} LIMIT ?) AS p "
                "JOIN records r ON r.rid = p.rid JOIN bodies b ON b.rid = r.rid {order}",
                where=where,
                cursor=cursor,
                order=order,
            )
            rows = await self._db.reader.execute_fetchall(sql, (*params, *after, page))
            return cast(list[BodyRow], rows)  # aiosqlite types them as Iterable[Row]

        pending = asyncio.create_task(read(()), name="export-page")
        try:
            while True:
                rows = await pending
                if len(rows) == page:
                    after = (rows[-1][4], rows[-1][0])
                    pending = asyncio.create_task(read(after), name="export-page")
                if rows:
                    yield rows
                if len(rows) < page:
                    return
        finally:
            # The caller may stop early (a client that disconnects): no read outlives it.
            if not pending.done():
                pending.cancel()
                await asyncio.wait([pending])
            if not pending.cancelled():
                pending.exception()  # retrieved, so it is not reported as lost

    async def count_up_to(self, query: QueryFilter, cap: int) -> int:
        """How many records match, counting no further than ``cap``: a list's heading
        ("more than 10,000 match") reads at most ``cap`` index entries whatever the
        filter, where an exact count of a common city reads every match."""
        where, params = where_clause(query)
        sql = statement(
            "SELECT COUNT(*) FROM (SELECT 1 FROM records r WHERE {where} LIMIT ?)", where=where
        )
        async with self._db.reader.execute(sql, (*params, cap)) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def stats(
        self, query: QueryFilter, group_by: Sequence[str], period: str | None = None
    ) -> Stats:
        """Aggregates of ``query`` (see :func:`storage.stats.stats`)."""
        return await aggregates.stats(self._db.reader, query, group_by, period)

    async def campaign_stats(
        self, audiences: Sequence[str], today: str
    ) -> dict[str, dict[str, Any]]:
        """Counts of the current campaign records (see :func:`storage.campaignstats`)."""
        return await campaign_stats(self._db.reader, audiences, today)

    async def scan_stats(
        self, query: QueryFilter, group_by: Sequence[str], period: str | None = None
    ) -> Stats:
        """:meth:`stats` computed from the records themselves, for any filter and grouping."""
        return await aggregates.scan_stats(self._db.reader, query, group_by, period)

    async def scan_groups(self, query: QueryFilter, keys: Sequence[str]) -> list[StatsGroup]:
        """The groups of :meth:`scan_stats`, without the total, read on a connection of
        their own: a scan of a million records takes seconds, and the shared reader
        connection would make every other read wait for it meanwhile."""
        async with aiosqlite.connect(self._db.path, isolation_level=None) as apart:
            await apart.execute("PRAGMA query_only = ON")
            await apart.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            return await aggregates.scan_groups(apart, query, aggregates.stats_keys(keys, None))

    async def scan_counts(
        self, query: QueryFilter, keys: Sequence[str]
    ) -> list[tuple[dict[str, str | bytes | None], int]]:
        """The number of matches per group of ``keys`` alone (the figures page), on a
        connection of its own like :meth:`scan_groups`."""
        async with aiosqlite.connect(self._db.path, isolation_level=None) as apart:
            await apart.execute("PRAGMA query_only = ON")
            await apart.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            return await aggregates.scan_counts(apart, query, aggregates.stats_keys(keys, None))

    async def counts(
        self, query: QueryFilter, keys: Sequence[str]
    ) -> list[tuple[dict[str, str | bytes | None], int]]:
        """What :meth:`scan_counts` counts, from the site's counts of public records
        (:mod:`storage.facets`: a sum over a few tens of thousands of rows) when they
        answer ``query`` grouped by ``keys``, else by :meth:`scan_counts`."""
        if facets.answerable(query, keys):
            return await facets.facet_counts(self._db.reader, query, keys)
        return await self.scan_counts(query, keys)

    async def coverage(self, audiences: Sequence[str]) -> list[ChapterCoverage]:
        """Every origin with a record in ``audiences``: who it is, what it holds, how far
        each of its feeds reaches."""
        marks, listed = expand_in(audiences)
        chapters: dict[bytes, ChapterCoverage] = {}
        sql = statement(
            "SELECT f.origin, f.audience, f.max_seq, r.created_ms FROM feeds f "
            "LEFT JOIN records r ON r.origin = f.origin AND r.audience = f.audience "
            "AND r.seq = f.max_seq WHERE f.audience IN {marks} ORDER BY f.origin, f.audience",
            marks=marks,
        )
        async with self._db.reader.execute(sql, listed) as cursor:
            async for origin, audience, max_seq, created_ms in cursor:
                chapter = chapters.setdefault(origin, ChapterCoverage(origin, None, None, None))
                chapter.feeds.append(FeedCoverage(audience, max_seq, created_ms))
        sql = statement(
            "SELECT r.origin, r.kind, COUNT(*) FROM records r "
            "WHERE r.audience IN {marks} AND r.superseded_by IS NULL "
            "AND r.retracted_by IS NULL AND r.erased_ms IS NULL GROUP BY r.origin, r.kind",
            marks=marks,
        )
        async with self._db.reader.execute(sql, listed) as cursor:
            async for origin, kind, count in cursor:
                if origin in chapters:
                    chapters[origin].records[kind] = count
        # Each origin's latest node record names it; later rows replace earlier ones.
        sql = statement(
            "SELECT r.origin, b.body FROM records r JOIN bodies b ON b.rid = r.rid "
            "WHERE r.kind = 'node' AND r.audience IN {marks} AND r.retracted_by IS NULL "
            "ORDER BY r.created_ms, r.rid",
            marks=marks,
        )
        async with self._db.reader.execute(sql, listed) as cursor:
            async for origin, body in cursor:
                info = decode_body("node", body)
                if origin in chapters and isinstance(info, NodeInfo):
                    chapter = chapters[origin]
                    chapter.name, chapter.city, chapter.country = info.name, info.city, info.country
        return list(chapters.values())

    async def node_records(self, audiences: Sequence[str]) -> list[tuple[bytes, NodeInfo, int]]:
        """``(origin, body, created_ms)`` of each origin's latest ``node`` record in
        ``audiences`` that is current and kept its body: who each chapter says it is
        and where its site is. Few rows (one chapter, one or a few records)."""
        marks, listed = expand_in(audiences)
        sql = statement(
            "SELECT r.origin, b.body, r.created_ms FROM records r "
            "JOIN bodies b ON b.rid = r.rid WHERE r.kind = 'node' AND r.audience IN {marks} "
            "AND r.superseded_by IS NULL AND r.retracted_by IS NULL AND r.erased_ms IS NULL "
            "ORDER BY r.created_ms, r.rid",
            marks=marks,
        )
        latest: dict[bytes, tuple[bytes, NodeInfo, int]] = {}
        async with self._db.reader.execute(sql, listed) as cursor:
            async for origin, body, created_ms in cursor:
                info = decode_body("node", body)
                if isinstance(info, NodeInfo):
                    latest[origin] = (origin, info, created_ms)  # later rows replace earlier
        return list(latest.values())


def _row(values: Sequence[Any]) -> QueryRow:
    rid, envelope, signature, body, *columns = values
    record = StoredRecord(
        rid=rid,
        envelope=decode_envelope(envelope),
        envelope_bytes=envelope,
        signature=signature,
        body=body,
        erased=False,
    )
    return QueryRow(record, *columns)
