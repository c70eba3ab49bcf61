"""What the map draws in a view: camera points or clusters, incident cells, surveyed areas.

Read from indexed columns only (``lat_e7``/``lon_e7``, ``area``), never from bodies.
Cameras in a view are points when few enough to draw, else clusters on a grid
of the view. Incidents are counts per geohash area cell at a precision fitting
the view; a cell holding fewer than the minimum merges into its parent, and a
group still too small at the coarsest level is not shown at all, so no answer
locates a single report.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Final

from node.web.filters import PageFilter
from node.web.mapview import Bbox, MapView, latitude, longitude
from protocol.geohash import decode
from storage.database import Database
from storage.filters import where_clause
from storage.sql import statement

MAX_POINTS: Final = 300  # cameras drawn one by one; more become clusters
GRID: Final = 10  # clusters across the view's width


@dataclass(frozen=True)
class CameraPoint:
    id: str  # hex record id
    lon: float
    lat: float
    status: str
    frt: str


@dataclass(frozen=True)
class Cluster:
    count: int
    lon: float
    lat: float
    bbox: Bbox


@dataclass(frozen=True)
class Cell:
    area: str
    count: int
    bbox: Bbox


@dataclass
class MapFeatures:
    points: list[CameraPoint] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    surveyed: list[Bbox] = field(default_factory=list)

    @property
    def cameras(self) -> int:
        return len(self.points) + sum(cluster.count for cluster in self.clusters)


def _view_bbox_e7(view: MapView) -> tuple[int, int, int, int]:
    min_lon, min_lat, max_lon, max_lat = view.bbox
    return (round(min_lat * 1e7), round(min_lon * 1e7), round(max_lat * 1e7), round(max_lon * 1e7))


async def cameras(db: Database, page: PageFilter, view: MapView) -> MapFeatures:
    query = page.query("deployment")
    query = type(query)(**{**query.__dict__, "bbox": _view_bbox_e7(view)})
    where, params = where_clause(query)
    async with db.reader.execute(
        statement("SELECT COUNT(*) FROM records r WHERE {where}", where=where), params
    ) as cursor:
        row = await cursor.fetchone()
    total = row[0] if row else 0
    features = MapFeatures()
    if total <= MAX_POINTS:
        sql = statement(
            "SELECT r.id, r.lon_e7, r.lat_e7, r.status, r.frt FROM records r WHERE {where}",
            where=where,
        )
        async with db.reader.execute(sql, params) as cursor:
            async for rid, lon, lat, status, frt in cursor:
                features.points.append(
                    CameraPoint(rid.hex(), lon / 1e7, lat / 1e7, status or "", frt or "unknown")
                )
        return features
    step_lon = max(1, round(view.span * 360e7 / GRID))
    step_lat = step_lon // 2 or 1
    sql = statement(
        "SELECT COUNT(*), AVG(r.lon_e7), AVG(r.lat_e7), MIN(r.lon_e7), MIN(r.lat_e7),"
        " MAX(r.lon_e7), MAX(r.lat_e7) FROM records r WHERE {where}"
        " GROUP BY r.lon_e7 / {step_lon}, r.lat_e7 / {step_lat}",
        where=where,
        step_lon=str(step_lon),
        step_lat=str(step_lat),
    )
    async with db.reader.execute(sql, params) as cursor:
        async for count, lon, lat, w, s, e, n in cursor:
            features.clusters.append(
                Cluster(count, lon / 1e7, lat / 1e7, (w / 1e7, s / 1e7, e / 1e7, n / 1e7))
            )
    return features


def precision_for(view: MapView) -> int:
    """The geohash precision whose cells are about a tenth of the view across."""
    for precision, width in ((6, 360 / 2**30), (5, 360 / 2**25), (4, 360 / 2**20)):
        if width * 8 >= view.span * 360 / 10:
            return precision
    for precision, width in ((3, 360 / 2**15), (2, 360 / 2**10)):
        if width * 8 >= view.span * 360 / 10:
            return precision
    return 1


async def incident_cells(db: Database, page: PageFilter, view: MapView, minimum: int) -> list[Cell]:
    where, params = where_clause(page.query("incident"))
    precision = precision_for(view)
    sql = statement(
        "SELECT substr(r.area, 1, {precision}), COUNT(*) FROM records r"
        " WHERE {where} AND r.area IS NOT NULL GROUP BY 1",
        precision=str(precision),
        where=where,
    )
    counts: dict[str, int] = {}
    async with db.reader.execute(sql, params) as cursor:
        async for area, count in cursor:
            counts[area] = count
    shown: dict[str, int] = {}
    while counts:
        small: dict[str, int] = defaultdict(int)
        for area, count in counts.items():
            if count >= minimum:
                shown[area] = shown.get(area, 0) + count
            elif len(area) > 1:
                small[area[:-1]] += count
        counts = dict(small)
    cells = []
    for area, count in shown.items():
        cell = decode(area)
        bbox = (cell.west, cell.south, cell.east, cell.north)
        x, y, w, h = view.rect(bbox)
        if x + w >= 0 and y + h >= 0 and x <= 1000 and y <= 640:
            cells.append(Cell(area, count, bbox))
    return cells


async def surveyed(db: Database) -> list[Bbox]:
    """Where some chapter collects data: the precision-2 cells holding any public record."""
    areas: set[str] = set()
    async with db.reader.execute(
        "SELECT DISTINCT substr(area, 1, 2) FROM records WHERE area IS NOT NULL"
    ) as cursor:
        async for (area,) in cursor:
            areas.add(area)
    out = []
    for area in sorted(areas):
        cell = decode(area)
        out.append((cell.west, cell.south, cell.east, cell.north))
    async with db.reader.execute(
        "SELECT lon_e7 / 100000000, lat_e7 / 50000000 FROM records"
        " WHERE lat_e7 IS NOT NULL GROUP BY 1, 2"
    ) as cursor:
        async for lon, lat in cursor:
            out.append((lon * 10.0, lat * 5.0, lon * 10.0 + 10, lat * 5.0 + 5))
    return out


async def extent(db: Database) -> Bbox | None:
    """Roughly where the node's data is: the default view."""
    async with db.reader.execute(
        "SELECT MIN(lon_e7), MIN(lat_e7), MAX(lon_e7), MAX(lat_e7) FROM records"
        " WHERE lat_e7 IS NOT NULL"
    ) as cursor:
        row = await cursor.fetchone()
    if row is None or row[0] is None:
        return None
    return (row[0] / 1e7, row[1] / 1e7, row[2] / 1e7, row[3] / 1e7)


__all__ = ["latitude", "longitude"]
