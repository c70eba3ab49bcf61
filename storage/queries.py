"""Filtered reads over incidents and deployments: pages, full scans, aggregates, coverage.

Every read here works on the indexed query columns of ``records`` (filled at
insert time, see :mod:`storage.columns`) and never decodes a body, except
coverage, which decodes each chapter's latest small ``node`` record. Stats
read the rollup of :mod:`storage.rollup` instead whenever it answers exactly.

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

from protocol.envelope import decode_envelope
from protocol.kinds import NodeInfo, decode_body
from storage import rollup
from storage.database import Database
from storage.records import StoredRecord
from storage.sql import expand_in, statement

QueryKind = Literal["incident", "deployment"]
SortKey = Literal["created", "occurred"]
SortOrder = tuple[SortKey, bool]  # (key, descending)
CursorKey = tuple[int | str, int]  # (the last row's sort value, its rid)

GROUP_KEYS = (
    "country",
    "region",
    "city",
    "category",
    "technology",
    "agency",
    "status",
    "origin",
    "month",
    "week",
    "year",
)
PERIODS = ("month", "week", "year")

# The Thursday of occurred_on's ISO week decides the ISO year and week number
# (this SQLite may predate strftime's %G and %V).
_THURSDAY = (
    "date(r.occurred_on, '-' || ((CAST(strftime('%w', r.occurred_on) AS INTEGER) + 6) % 7)"
    " || ' days', '+3 days')"
)
_GROUP_SQL = {
    "country": "r.country",
    "region": "r.region",
    "city": "r.city",
    "category": "r.category",
    "technology": "r.technology",
    "agency": "r.agency",
    "status": "r.status",
    "origin": "r.origin",
    "month": "substr(r.occurred_on, 1, 7)",
    "year": "substr(r.occurred_on, 1, 4)",
    "week": f"strftime('%Y', {_THURSDAY}) || '-W' || "
    f"printf('%02d', (CAST(strftime('%j', {_THURSDAY}) AS INTEGER) - 1) / 7 + 1)",
}
_SORT_SQL = {"created": "r.created_ms", "occurred": "COALESCE(r.occurred_on, '')"}
_ROW_COLUMNS = (
    "r.rid, r.envelope, r.signature, b.body, r.created_ms, r.country, r.region, r.city,"
    " r.category, r.technology, r.agency, r.status, r.occurred_on, r.area, r.lat_e7, r.lon_e7"
)
ITERATE_PAGE = 1000
# rid, id, origin, audience, created_ms, body: a current record as exports read it.
BodyRow = tuple[int, bytes, bytes, str, int, bytes]


@dataclass(frozen=True)
class QueryFilter:
    """What a query, an aggregate or an export selects. Empty tuples and None select all.

    Values within one field are alternatives (OR); fields combine with AND.
    ``occurred_*`` are inclusive ISO dates, ``created_*_ms`` inclusive
    milliseconds. ``area_prefix`` (a geohash prefix) applies to incidents,
    ``bbox`` (min_lat_e7, min_lon_e7, max_lat_e7, max_lon_e7; min_lon > max_lon
    crosses the antimeridian) to deployments, and ``text`` is a full-text search
    over incident summaries, matched as plain words (every word must occur).
    """

    kind: QueryKind
    audiences: tuple[str, ...]
    countries: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    origins: tuple[bytes, ...] = ()
    categories: tuple[str, ...] = ()
    technologies: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    occurred_from: str | None = None
    occurred_to: str | None = None
    created_from_ms: int | None = None
    created_to_ms: int | None = None
    area_prefix: str | None = None
    bbox: tuple[int, int, int, int] | None = None
    text: str | None = None


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

    def cursor_key(self, sort: SortKey) -> CursorKey:
        """Where a page ending at this row ends, for the next page's ``after``."""
        value: int | str = self.created_ms if sort == "created" else self.occurred_on or ""
        return (value, self.record.rid)


@dataclass(slots=True)  # not frozen: building 20,000 frozen ones cost a tenth of a stats request
class StatsGroup:
    """One group of an aggregate; ``keys`` maps each group_by name to its value
    (``origin`` as the 32-byte key, the others as text, None where a record has none)."""

    keys: dict[str, str | bytes | None]
    count: int
    chapters: int
    first: str | None
    last: str | None


@dataclass(frozen=True, slots=True)
class Stats:
    groups: list[StatsGroup]
    total: StatsGroup


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


def fts_match(text: str) -> str:
    """An FTS5 query matching every word of ``text`` as a plain string, so no user input
    is read as FTS syntax (quotes, NEAR, AND, column filters, ``*``). NUL would end an
    FTS5 string early, so it separates words like a space."""
    words = text.replace("\x00", " ").split()
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def _in(column: str, values: Sequence[Any], clauses: list[str], params: list[Any]) -> None:
    if values:
        marks, listed = expand_in(values)
        clauses.append(f"{column} IN {marks}")
        params.extend(listed)


def where_clause(query: QueryFilter, *, kind_index: bool = True) -> tuple[str, list[Any]]:
    """The SQL condition (over ``records r``) and its bound parameters for ``query``.

    ``kind_index=False`` keeps SQLite from choosing an index for the kind term alone
    (a unary ``+``), while indexes on selective filters stay usable."""
    clauses = [
        "r.kind = ?" if kind_index else "+r.kind = ?",
        "r.superseded_by IS NULL",
        "r.retracted_by IS NULL",
        "r.erased_ms IS NULL",
    ]
    params: list[Any] = [query.kind]
    _in("r.audience", query.audiences or ("",), clauses, params)
    _in("r.country", query.countries, clauses, params)
    _in("r.region", query.regions, clauses, params)
    _in("r.city", query.cities, clauses, params)
    _in("r.origin", query.origins, clauses, params)
    _in("r.category", query.categories, clauses, params)
    _in("r.technology", query.technologies, clauses, params)
    _in("r.agency COLLATE NOCASE", query.agencies, clauses, params)
    _in("r.status", query.statuses, clauses, params)
    bounds: tuple[tuple[str, str, Any], ...] = (
        ("r.occurred_on", ">=", query.occurred_from),
        ("r.occurred_on", "<=", query.occurred_to),
        ("r.created_ms", ">=", query.created_from_ms),
        ("r.created_ms", "<=", query.created_to_ms),
    )
    for column, operator, value in bounds:
        if value is not None:
            clauses.append(f"{column} {operator} ?")
            params.append(value)
    if query.area_prefix is not None:
        # '{' sorts just after 'z', the last letter of the geohash alphabet: an index range.
        clauses.append("r.area >= ? AND r.area < ?")
        params.extend((query.area_prefix, query.area_prefix + "{"))
    if query.bbox is not None:
        min_lat, min_lon, max_lat, max_lon = query.bbox
        clauses.append("r.lat_e7 BETWEEN ? AND ?")
        params.extend((min_lat, max_lat))
        joiner = "AND" if min_lon <= max_lon else "OR"
        clauses.append(f"(r.lon_e7 >= ? {joiner} r.lon_e7 <= ?)")
        params.extend((min_lon, max_lon))
    if query.text is not None:
        clauses.append("r.rid IN (SELECT rowid FROM summaries WHERE summaries MATCH ?)")
        params.append(fts_match(query.text))
    return " AND ".join(clauses), params


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

    async def stats(
        self, query: QueryFilter, group_by: Sequence[str], period: str | None = None
    ) -> Stats:
        """Counts, distinct origins and first and last ``occurred_on`` per group and in total.

        ``group_by`` names come from :data:`GROUP_KEYS`; ``period`` (one of
        :data:`PERIODS`) adds a time series key when not already grouped by it.
        Answered from the rollup (:mod:`storage.rollup`) when it can be, else by
        :meth:`scan_stats`; both give the same answer.
        """
        keys = _stats_keys(group_by, period)
        if rollup.answerable(query, keys):
            return await self._rollup_stats(query, keys)
        return await self.scan_stats(query, keys)

    async def scan_stats(
        self, query: QueryFilter, group_by: Sequence[str], period: str | None = None
    ) -> Stats:
        """:meth:`stats` computed from the records themselves, for any filter and grouping."""
        keys = _stats_keys(group_by, period)
        # Aggregates read most rows of a kind: walking a kind index with a table lookup
        # per row measured slower than a scan (bench/query.py, 1,000,000 records).
        where, params = where_clause(query, kind_index=False)
        measures = "COUNT(*), COUNT(DISTINCT r.origin), MIN(r.occurred_on), MAX(r.occurred_on)"
        groups: list[StatsGroup] = []
        if keys:
            expressions = ", ".join(f"{_GROUP_SQL[k]} AS g{i}" for i, k in enumerate(keys))
            positions = ", ".join(str(i + 1) for i in range(len(keys)))
            sql = statement(
                "SELECT {expressions}, {measures} FROM records r "
                "WHERE {where} GROUP BY {positions} ORDER BY {positions}",
                expressions=expressions,
                measures=measures,
                where=where,
                positions=positions,
            )
            async with self._db.reader.execute(sql, params) as cursor:
                async for values in cursor:
                    groups.append(
                        StatsGroup(dict(zip(keys, values[: len(keys)], strict=True)), *values[-4:])
                    )
        sql = statement(
            "SELECT {measures} FROM records r WHERE {where}", measures=measures, where=where
        )
        async with self._db.reader.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return Stats(groups, StatsGroup({}, *row))

    async def _rollup_stats(self, query: QueryFilter, keys: Sequence[str]) -> Stats:
        reader = self._db.reader
        visibility = rollup.cells_visibility(query, keys)
        where, params = rollup.rollup_where(query, cells=visibility is not None)
        selected = ", ".join(rollup.ROLLUP_GROUPS[k] for k in keys)
        # Grouping and ordering on the stored columns (where '' sorts as NULL would,
        # first) lets SQLite read stats_cells in key order; NULLIF costs a sort.
        order = ", ".join(rollup.ROLLUP_ORDER[k] for k in keys)
        if visibility is not None:
            sql = statement(
                "SELECT {selected}, u.records, u.chapters, u.first, u.last "
                "FROM stats_cells u WHERE {where} AND u.visibility = ? ORDER BY {order}",
                selected=selected,
                where=where,
                order=order,
            )
            rows = await reader.execute_fetchall(sql, [*params, visibility])
        elif keys:
            sql = statement(
                "SELECT {selected}, SUM(u.records), COUNT(DISTINCT u.origin), "
                "MIN(u.first), MAX(u.last) FROM stats_rollup u WHERE {where} "
                "GROUP BY {order} ORDER BY {order}",
                selected=selected,
                where=where,
                order=order,
            )
            rows = await reader.execute_fetchall(sql, params)
        else:
            rows = []
        n = len(keys)
        groups = [StatsGroup(dict(zip(keys, row[:n], strict=True)), *row[n:]) for row in rows]
        where, params = rollup.rollup_where(query, cells=False)
        if keys:
            # Groups split the selection without overlap: the total's count, first and
            # last follow from them; only its distinct chapters need the rollup again.
            count = sum(g.count for g in groups)
            first = min((g.first for g in groups if g.first is not None), default=None)
            last = max((g.last for g in groups if g.last is not None), default=None)
        else:
            sql = statement(
                "SELECT COALESCE(SUM(u.records), 0), MIN(u.first), MAX(u.last) "
                "FROM stats_rollup u WHERE {where}",
                where=where,
            )
            ((count, first, last),) = await reader.execute_fetchall(sql, params)
        # One index seek per chapter (stats_rollup_origin) instead of a DISTINCT scan.
        sql = statement(
            "SELECT COUNT(*) FROM (SELECT DISTINCT origin FROM feeds) AS o "
            "WHERE EXISTS (SELECT 1 FROM stats_rollup u WHERE {where} AND u.origin = o.origin)",
            where=where,
        )
        ((chapters,),) = await reader.execute_fetchall(sql, params)
        return Stats(groups, StatsGroup({}, count, chapters, first, last))

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


def _stats_keys(group_by: Sequence[str], period: str | None) -> list[str]:
    keys = list(dict.fromkeys([*group_by, *([period] if period else [])]))
    unknown = [k for k in keys if k not in _GROUP_SQL]
    if unknown:
        raise ValueError(f"cannot group by {unknown[0]!r}")
    return keys


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
