"""The map's data: deployments as points or clusters, incidents as cells, who surveys where.

Everything here reads indexed columns (``records``' query columns, the
``map_grid`` rollup of :mod:`storage.mapgrid`, the ``members`` table) and never
decodes a record's body, except the few small ``node`` records naming chapters.

- Deployments in a box at a zoom (:meth:`MapData.deployments`): below
  :data:`POINT_ZOOM`, clusters of a grid about sixteen cells across a tile, with
  their counts, drawn at their members' mean position (a cell holding a single
  deployment is that deployment, with its status and FRT capability); from
  :data:`POINT_ZOOM`, each deployment with its id, unless the box holds more than
  :data:`MAX_POINTS` (then the finest clusters). Each cluster or point belongs to
  the box holding its position, so adjacent tiles never draw one twice.
- Incidents (:meth:`MapData.area_cells`): counts per area cell that never show
  a group smaller than the minimum (:mod:`storage.areacells`), computed once per
  filter and database version.
- Coverage (:meth:`MapData.surveyed`): the countries and cities where a chapter
  collects data, so the map can say "not surveyed" elsewhere.
"""

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from protocol.kinds import NodeInfo, decode_body
from storage.areacells import AreaCells, suppress
from storage.database import Database
from storage.filters import QueryFilter, where_clause
from storage.mapgrid import (
    LAT_OFFSET,
    LEVELS,
    LON_OFFSET,
    answerable,
    grid_where,
    stored_level,
)
from storage.sql import expand_in, statement

POINT_ZOOM: Final = 12
MAX_POINTS: Final = 2000
# A tile at zoom z is 360 / 2**z degrees wide: 2**(27 - z) 1e-7 degrees is about a sixteenth.
_CLUSTER_SHIFT: Final = 27
_FINEST_SHIFT: Final = 15
_CACHED_CELLS: Final = 32
_NAMED_COLUMNS: Final = 256
LON_MAX_E7: Final = 1_800_000_000
LAT_MAX_E7: Final = 900_000_000

# (west, south, east, north) in 1e-7 degrees; a position is in it when
# west <= lon < east and south <= lat < north (the world's east and north edges included).
Box = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class Point:
    """One deployment: its id (None for a grid cell that holds just one), position,
    status and FRT capability."""

    id: bytes | None
    lat_e7: int
    lon_e7: int
    status: str
    frt: str


@dataclass(frozen=True, slots=True)
class Cluster:
    """Deployments of one grid cell: how many, where on average, how many with FRT confirmed."""

    count: int
    lat_e7: int
    lon_e7: int
    frt_confirmed: int


@dataclass
class _KeptCells:
    """Incident groups being or done computing, at a version, and when that was current."""

    cells: "asyncio.Future[AreaCells]"
    version: int
    as_of_ms: int


@dataclass(frozen=True)
class Surveyed:
    """Where a chapter collects data: country codes, and (country, city) pairs."""

    countries: tuple[str, ...]
    cities: tuple[tuple[str, str], ...]


def inside(box: Box, lat_e7: int, lon_e7: int) -> bool:
    west, south, east, north = box
    return (west <= lon_e7 < east or lon_e7 == east == LON_MAX_E7) and (
        south <= lat_e7 < north or lat_e7 == north == LAT_MAX_E7
    )


def cluster_shift(zoom: int) -> int:
    """The grid level clusters use at ``zoom`` (cells of ``2**level`` 1e-7 degrees)."""
    return max(_CLUSTER_SHIFT - zoom, _FINEST_SHIFT)


class MapData:
    """The map's reads, on the reader connection."""

    def __init__(self, db: Database, clock: Callable[[], int], max_age_ms: int = 0) -> None:
        self._db = db
        self.clock = clock
        # How old the incident groups may be when asked with ``lag`` (the node's
        # ``[site] map_max_age_s``; 0: recomputed whenever the database changed).
        self.max_age_ms = max_age_ms
        self._cells: OrderedDict[tuple[QueryFilter, int], _KeptCells] = OrderedDict()
        self._refreshing: dict[tuple[QueryFilter, int], asyncio.Future[None]] = {}

    async def version(self) -> int:
        """SQLite's ``data_version``: changes whenever any connection commits."""
        async with self._db.reader.execute("PRAGMA data_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    # Deployments

    async def deployments(
        self, query: QueryFilter, zoom: int, box: Box, *, rollup: bool = True
    ) -> list[Point | Cluster]:
        """The points and clusters in ``box`` at ``zoom``. ``rollup=False`` counts from
        the records themselves (what a test compares the rollup with)."""
        if zoom >= POINT_ZOOM:
            points = await self._points(query, box)
            if points is not None:
                return list(points)
        return await self.clusters(query, cluster_shift(zoom), box, rollup=rollup)

    async def _points(self, query: QueryFilter, box: Box) -> list[Point] | None:
        """Each deployment in ``box``, or None when there are more than :data:`MAX_POINTS`
        (known from the grid's finest cells when it answers the query)."""
        if answerable(query) and await self._grid_count(query, box) > MAX_POINTS:
            return None
        west, south, east, north = box
        bounded = replace(query, bbox=(south, west, min(north, LAT_MAX_E7), east))
        where, params = where_clause(bounded, kind_index=False)
        # The literal kind lets SQLite use records_map_points (migration 9), and it must:
        # without statistics it took records_current_place's kind instead, and read
        # every deployment (1.1 s, not 15 ms, in a box of 500 of a million).
        sql = statement(
            "SELECT r.id, r.lat_e7, r.lon_e7, COALESCE(r.status, ''), COALESCE(r.frt, '') "
            "FROM records r INDEXED BY records_map_points "
            "WHERE r.kind = 'deployment' AND r.lat_e7 IS NOT NULL AND {where} LIMIT ?",
            where=where,
        )
        rows = list(await self._db.reader.execute_fetchall(sql, (*params, MAX_POINTS + 1)))
        if len(rows) > MAX_POINTS:
            return None
        points = [Point(*row) for row in rows if inside(box, row[1], row[2])]
        return sorted(points, key=lambda p: (p.lat_e7, p.lon_e7, p.id or b""))

    async def _grid_count(self, query: QueryFilter, box: Box) -> int:
        """How many deployments the finest grid cells meeting ``box`` hold (at least the box's)."""
        west, south, east, north = box
        level = LEVELS[0]
        condition, params = grid_where(query)
        columns, column_args = _columns((west + LON_OFFSET) >> level, (east + LON_OFFSET) >> level)
        sql = statement(
            "SELECT COALESCE(SUM(g.records), 0) FROM map_grid g WHERE g.level = ? "
            "AND {columns} AND g.cy BETWEEN ? AND ? AND {condition}",
            columns=columns,
            condition=condition,
        )
        rows_ = ((south + LAT_OFFSET) >> level, (min(north, LAT_MAX_E7) + LAT_OFFSET) >> level)
        args = (level, *column_args, *rows_, *params)
        rows = list(await self._db.reader.execute_fetchall(sql, args))
        return int(rows[0][0])

    async def clusters(
        self, query: QueryFilter, level: int, box: Box, *, rollup: bool = True
    ) -> list[Point | Cluster]:
        """The deployments in ``box`` counted per cell of grid ``level``."""
        west, south, east, north = box
        first_x, last_x = (west + LON_OFFSET) >> level, (east + LON_OFFSET) >> level
        first_y = (south + LAT_OFFSET) >> level
        last_y = (min(north, LAT_MAX_E7) + LAT_OFFSET) >> level
        if rollup and answerable(query):
            stored = stored_level(level)
            shift = level - stored
            condition, params = grid_where(query)
            columns, column_args = _columns(first_x << shift, ((last_x + 1) << shift) - 1)
            sql = statement(
                "SELECT g.cx >> ?, g.cy >> ?, g.status, g.frt, SUM(g.records), "
                "SUM(g.sum_lat), SUM(g.sum_lon) FROM map_grid g WHERE g.level = ? "
                "AND {columns} AND g.cy BETWEEN ? AND ? AND {condition} "
                "GROUP BY 1, 2, 3, 4",
                columns=columns,
                condition=condition,
            )
            rows_ = (first_y << shift, ((last_y + 1) << shift) - 1)
            args: Sequence[Any] = (shift, shift, stored, *column_args, *rows_, *params)
        else:
            cells_box = (
                max((first_y << level) - LAT_OFFSET, -LAT_MAX_E7),
                max((first_x << level) - LON_OFFSET, -LON_MAX_E7),
                min(((last_y + 1) << level) - 1 - LAT_OFFSET, LAT_MAX_E7),
                min(((last_x + 1) << level) - 1 - LON_OFFSET, LON_MAX_E7),
            )
            where, params = where_clause(replace(query, bbox=cells_box), kind_index=False)
            # The box reads records_map_points (the literal kind lets it), named as in
            # _points; a city or a country reads its own index (storage.filters).
            placed = query.cities or query.countries
            sql = statement(
                "SELECT (r.lon_e7 + 1800000000) >> ?, (r.lat_e7 + 900000000) >> ?, "
                "COALESCE(r.status, ''), COALESCE(r.frt, ''), COUNT(*), SUM(r.lat_e7), "
                "SUM(r.lon_e7) FROM records r{indexed} WHERE r.kind = 'deployment' "
                "AND {where} AND r.lat_e7 IS NOT NULL AND r.lon_e7 IS NOT NULL "
                "GROUP BY 1, 2, 3, 4",
                indexed="" if placed else " INDEXED BY records_map_points",
                where=where,
            )
            args = (level, level, *params)
        rows = list(await self._db.reader.execute_fetchall(sql, args))
        return _merge(rows, box)

    # Incidents

    async def area_cells(self, query: QueryFilter, minimum: int) -> AreaCells:
        """The shown groups of the incidents ``query`` selects, at the current version."""
        cells, _, _ = await self.area_cells_as_of(query, minimum, lag=False)
        return cells

    async def area_cells_as_of(
        self, query: QueryFilter, minimum: int, *, lag: bool = True
    ) -> tuple[AreaCells, int, int]:
        """The shown groups, the clock's time (ms) they were last known current at, and
        the database version they show.

        With ``lag``, groups read less than :attr:`max_age_ms` ago are answered
        whatever was written since (the map's tiles, whose answers may be that old
        anyway); else, and when older, groups are recomputed when the database's
        version changed. One computation per filter at a time: others wait for it."""
        key = (query, minimum)
        kept = self._cells.get(key)
        if kept is not None:
            self._cells.move_to_end(key)
            age = self.clock() - kept.as_of_ms
            if lag and age < self.max_age_ms:
                if age >= self._refresh_after_ms() and kept.cells.done():
                    self._refresh(key, kept)
                return await self._kept(key, kept)
        now = self.clock()
        version = await self.version()
        kept = self._cells.get(key)
        if kept is not None and kept.version == version:
            kept.as_of_ms = max(kept.as_of_ms, now)  # unchanged since: current as of now
            return await self._kept(key, kept)
        kept = _KeptCells(asyncio.ensure_future(self._area_cells(query, minimum)), version, now)
        self._cells[key] = kept
        while len(self._cells) > _CACHED_CELLS:
            self._cells.popitem(last=False)
        return await self._kept(key, kept)

    def _refresh_after_ms(self) -> int:
        """How old kept groups are read again: a quarter of :attr:`max_age_ms`, but not
        sooner than a second (nor later than half of it). A tile drawn from groups is
        dated by them, so older groups would make every tile drawn from them due sooner."""
        return max(self.max_age_ms // 4, min(self.max_age_ms // 2, 1000))

    def _refresh(self, key: tuple[QueryFilter, int], kept: "_KeptCells") -> None:
        """Past :meth:`_refresh_after_ms`, groups are read again in the background and
        replace the kept ones when done, so tiles drawn meanwhile are not all as old (and
        due) at once."""
        if key in self._refreshing:
            return

        async def refresh() -> None:
            now = self.clock()
            try:
                version = await self.version()
                if version == kept.version:
                    kept.as_of_ms = max(kept.as_of_ms, now)
                    return
                cells = await self._area_cells(*key)
            except Exception:  # the kept groups expire instead; the next reader recomputes
                return
            done = asyncio.get_running_loop().create_future()
            done.set_result(cells)
            if self._cells.get(key) is kept:
                self._cells[key] = _KeptCells(done, version, now)

        task = asyncio.ensure_future(refresh())
        self._refreshing[key] = task
        task.add_done_callback(lambda _: self._refreshing.pop(key, None))

    async def close(self) -> None:
        """Stop the background refreshes (before the database closes)."""
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _kept(
        self, key: tuple[QueryFilter, int], kept: "_KeptCells"
    ) -> tuple[AreaCells, int, int]:
        as_of = kept.as_of_ms  # before waiting: a confirmation meanwhile is not this copy's
        try:
            return await asyncio.shield(kept.cells), as_of, kept.version
        except BaseException:
            if kept.cells.done() and self._cells.get(key) is kept:
                del self._cells[key]  # a failed computation is not kept
            raise

    async def _area_cells(self, query: QueryFilter, minimum: int) -> AreaCells:
        return suppress(await self.area_counts(query), minimum)

    async def area_counts(self, query: QueryFilter) -> dict[str, int]:
        """Current incidents per area cell, as stored: never shown as they are."""
        where, params = where_clause(query, kind_index=False)
        # The literal kind lets SQLite use records_map_areas (migration 9).
        sql = statement(
            "SELECT r.area, COUNT(*) FROM records r WHERE r.kind = 'incident' "
            "AND r.area IS NOT NULL AND {where} GROUP BY r.area",
            where=where,
        )
        rows = await self._db.reader.execute_fetchall(sql, params)
        return {area: count for area, count in rows}

    # Coverage

    async def surveyed(
        self, audiences: Sequence[str], own: tuple[str | None, str | None] = (None, None)
    ) -> Surveyed:
        """Where chapters collect data: this node's own (country, city), each admitted
        chapter's, and each origin's latest ``node`` record's in ``audiences``."""
        places: set[tuple[str | None, str | None]] = {own}
        rows = await self._db.reader.execute_fetchall(
            "SELECT country, city FROM members WHERE action = 'admit' AND role = 'chapter'"
        )
        places.update((country, city) for country, city in rows)
        marks, listed = expand_in(audiences)
        # Sorted here, not in SQL: ordering by created_ms would walk that index over every
        # record rather than the few node records the kind index finds.
        sql = statement(
            "SELECT r.created_ms, r.rid, r.origin, b.body FROM records r "
            "JOIN bodies b ON b.rid = r.rid WHERE r.kind = 'node' AND +r.audience IN {marks} "
            "AND r.retracted_by IS NULL",
            marks=marks,
        )
        latest: dict[bytes, NodeInfo] = {}
        for _, _, origin, body in sorted(await self._db.reader.execute_fetchall(sql, listed)):
            info = decode_body("node", body)
            if isinstance(info, NodeInfo):
                latest[origin] = info
        places.update((info.country, info.city) for info in latest.values())
        countries = sorted({country.upper() for country, _ in places if country})
        cities = sorted({(country.upper(), city) for country, city in places if country and city})
        return Surveyed(tuple(countries), tuple(cities))


def _columns(first: int, last: int) -> tuple[str, tuple[int, ...]]:
    """The condition on ``g.cx`` for grid columns ``first`` to ``last``: each one named
    when there are few, so that SQLite seeks each column's rows by ``cy`` through the
    primary key (level, cx, cy, ...) instead of reading the whole columns, pole to
    pole, and dropping the rows outside the box (half the time of a z10 tile)."""
    if last - first < _NAMED_COLUMNS:
        marks, columns = expand_in(range(first, last + 1))
        return f"g.cx IN {marks}", tuple(columns)
    return "g.cx BETWEEN ? AND ?", (first, last)


def _merge(rows: Sequence[Sequence[Any]], box: Box) -> list[Point | Cluster]:
    """Grid rows (column, row, status, frt, count, sums) as one point or cluster per cell."""
    cells: dict[tuple[int, int], list[Any]] = {}
    for cx, cy, status, frt, count, sum_lat, sum_lon in rows:
        cell = cells.get((cx, cy))
        if cell is None:
            cells[(cx, cy)] = [
                count,
                sum_lat,
                sum_lon,
                count if frt == "confirmed" else 0,
                status,
                frt,
            ]
        else:
            cell[0] += count
            cell[1] += sum_lat
            cell[2] += sum_lon
            cell[3] += count if frt == "confirmed" else 0
    found: list[Point | Cluster] = []
    for (_, _), (count, sum_lat, sum_lon, confirmed, status, frt) in sorted(cells.items()):
        lat, lon = sum_lat // count, sum_lon // count
        if not inside(box, lat, lon):
            continue
        if count == 1:
            found.append(Point(None, lat, lon, status, frt))
        else:
            found.append(Cluster(count, lat, lon, confirmed))
    return found
