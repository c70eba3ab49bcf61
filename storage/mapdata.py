"""The map's data: deployments as points or clusters, incidents as cells, who surveys where.

Everything here reads indexed columns (``records``' query columns, the
``map_grid`` and ``map_areas`` rollups of :mod:`storage.mapgrid` and
:mod:`storage.mapareas`, the ``members`` table) and never
decodes a record's body, except the few small ``node`` records naming chapters.

- Deployments in a box at a zoom (:meth:`MapData.deployments`): below
  :data:`POINT_ZOOM`, clusters of a grid about sixteen cells across a tile, with
  their counts, drawn at their members' mean position (a cell holding a single
  deployment is that deployment, with its status and FRT capability); from
  :data:`POINT_ZOOM`, each deployment with its id, unless the box holds more than
  :data:`MAX_POINTS` (then clusters of :data:`OVERFLOW_SHIFT`). Each cluster or point belongs to
  the box holding its position, so adjacent tiles never draw one twice.
- Incidents (:meth:`MapData.area_cells`): counts per area cell that never show
  a group smaller than the minimum (:mod:`storage.areacells`), computed once per
  filter and database version and kept a while (:mod:`storage.mapgroups`).
- Coverage (:meth:`MapData.surveyed`): the countries and cities where a chapter
  collects data, so the map can say "not surveyed" elsewhere.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from protocol.kinds import NodeInfo, decode_body
from storage.filters import QueryFilter, where_clause
from storage.mapgrid import (
    LAT_OFFSET,
    LEVELS,
    LON_OFFSET,
    answerable,
    grid_where,
    stored_level,
)
from storage.mapgroups import IncidentGroups
from storage.sql import expand_in, statement

POINT_ZOOM: Final = 12
MAX_POINTS: Final = 2000
# A tile at zoom z is 360 / 2**z degrees wide: 2**(27 - z) 1e-7 degrees is about a sixteenth.
_CLUSTER_SHIFT: Final = 27
_FINEST_SHIFT: Final = 15
# A box from POINT_ZOOM holding more than MAX_POINTS is drawn as clusters of this level
# (about 730 m across, 19 px at zoom 12), not the finest: a screen of New York at zoom 12
# held 5,675 finest clusters, 632 KB of GeoJSON and 55 ms of CPU, beyond issue 12's 50 ms
# and too crowded to read; at this level, 1,635 clusters and 14 ms (bench/README.md).
OVERFLOW_SHIFT: Final = _FINEST_SHIFT + 1
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


class MapData(IncidentGroups):
    """The map's reads, on the reader connection (the incident groups':
    :class:`~storage.mapgroups.IncidentGroups`)."""

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
            return await self.clusters(query, OVERFLOW_SHIFT, box, rollup=rollup)
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
            # A stored level is grouped by its own columns: the primary key gives the rows
            # in that order, so SQLite groups them as they come, where a shift (even of 0)
            # makes it sort them first (a third of New York's zoom-12 box: 30 ms, not 45).
            cell = "g.cx >> ?, g.cy >> ?" if shift else "g.cx, g.cy"
            sql = statement(
                "SELECT {cell}, SUM(g.records), SUM(g.sum_lat), "
                "SUM(g.sum_lon), SUM(CASE WHEN g.frt = 'confirmed' THEN g.records ELSE 0 END), "
                "MIN(g.status), MIN(g.frt) FROM map_grid g WHERE g.level = ? "
                "AND {columns} AND g.cy BETWEEN ? AND ? AND {condition} GROUP BY 1, 2",
                cell=cell,
                columns=columns,
                condition=condition,
            )
            rows_ = (first_y << shift, ((last_y + 1) << shift) - 1)
            shifts = (shift, shift) if shift else ()
            args: Sequence[Any] = (*shifts, stored, *column_args, *rows_, *params)
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
                "COUNT(*), SUM(r.lat_e7), SUM(r.lon_e7), "
                "SUM(CASE WHEN r.frt = 'confirmed' THEN 1 ELSE 0 END), "
                "MIN(COALESCE(r.status, '')), MIN(COALESCE(r.frt, '')) FROM records r{indexed} "
                "WHERE r.kind = 'deployment' AND {where} AND r.lat_e7 IS NOT NULL "
                "AND r.lon_e7 IS NOT NULL GROUP BY 1, 2",
                indexed="" if placed else " INDEXED BY records_map_points",
                where=where,
            )
            args = (level, level, *params)
        rows = list(await self._db.reader.execute_fetchall(sql, args))
        return _merge(rows, box)

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
    """One row per grid cell (column, row, count, sums, FRT confirmed, and the status and
    FRT capability that matter only for a cell of one) as a point or cluster, in cell
    order. Grouping by cell alone in SQL, not also by status and FRT capability, took a
    quarter off the statement and nine tenths off the rows a dense z10 box gives (New
    York's: 723, not 6,596; bench/README.md)."""
    found: list[Point | Cluster] = []
    for _, _, count, sum_lat, sum_lon, confirmed, status, frt in sorted(map(tuple, rows)):
        lat, lon = sum_lat // count, sum_lon // count
        if not inside(box, lat, lon):
            continue
        if count == 1:
            found.append(Point(None, lat, lon, status, frt))
        else:
            found.append(Cluster(count, lat, lon, confirmed))
    return found
