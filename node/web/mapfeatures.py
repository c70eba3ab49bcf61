"""What the no-script map draws in a view, from :mod:`storage.mapdata` (the tiles' data).

The drawing is about a tile wide at the view's zoom (:attr:`MapView.zoom` is the
tile zoom at which one tile spans the view), so cameras come as the clusters
of the tile zoom one out: about eight across the map, each with its count. When the
view holds at most :data:`MAX_POINTS` cameras, each is a point with its record
id, linking to its page. Incidents are only the shown groups of
:meth:`storage.mapdata.MapData.area_cells` (never a group below the minimum),
at the precision the tiles use at that zoom (cells a few dozen units of the
drawing across), coarser while more than :data:`MAX_CELLS` would be drawn.
Surveyed areas are the countries where a chapter collects data, or where
public records are.
"""

import math
from dataclasses import dataclass, field
from typing import Final

from node.web.filters import PageFilter
from node.web.mapview import Bbox, MapView
from node.web.site import PUBLIC
from storage.areacells import AreaCells, precision_for_zoom
from storage.mapdata import POINT_ZOOM, Box, Cluster, MapData, Point, cluster_shift
from storage.queries import RecordQueries

MAX_POINTS: Final = 300
MAX_CELLS: Final = 300
# Incident cells are drawn at the precision tiles use this many zooms closer: cells
# some dozens of units of the drawing across, large enough to read and to tap.
CELL_ZOOM: Final = 1
# The precision of the incident groups the default view fits (about 40 km by 20 km).
EXTENT_PRECISION: Final = 4


@dataclass(frozen=True)
class CameraPoint:
    id: str | None  # hex record id; None for a lone camera of a cluster grid
    lon: float
    lat: float
    status: str
    frt: str


@dataclass(frozen=True)
class CameraCluster:
    count: int
    lon: float
    lat: float
    bbox: Bbox  # the grid cell it summarises: where a click zooms to


@dataclass(frozen=True)
class IncidentCell:
    area: str
    count: int
    bbox: Bbox


@dataclass
class MapFeatures:
    points: list[CameraPoint] = field(default_factory=list)
    clusters: list[CameraCluster] = field(default_factory=list)
    cells: list[IncidentCell] = field(default_factory=list)
    hidden_incidents: int = 0  # in groups too small to show anywhere
    surveyed: frozenset[str] = frozenset()  # ISO alpha-2 codes

    @property
    def cameras(self) -> int:
        return len(self.points) + sum(cluster.count for cluster in self.clusters)


def _box(view: MapView) -> Box:
    west, south, east, north = view.bbox
    return (round(west * 1e7), round(south * 1e7), round(east * 1e7), round(north * 1e7))


def _data_zoom(view: MapView) -> int:
    return max(0, min(POINT_ZOOM - 1, math.floor(view.zoom + 1e-9)))


def _cluster_zoom(view: MapView) -> int:
    """Clusters of the tiles one zoom out: about eight across the drawing, room for
    each disc and its count."""
    return max(0, _data_zoom(view) - 1)


async def cameras(data: MapData, page: PageFilter, view: MapView, into: MapFeatures) -> None:
    """The cameras in ``view``: clusters, or points when few enough."""
    query = page.query("deployment")
    box = _box(view)
    zoom = _cluster_zoom(view)
    found = await data.clusters(query, cluster_shift(zoom), box)
    total = sum(item.count if isinstance(item, Cluster) else 1 for item in found)
    if total <= MAX_POINTS:
        # The grid counts cameras by their cells' mean positions; the points are counted
        # by their own, so a few more may be in the box: still few enough to draw.
        points = await data.deployments(query, POINT_ZOOM, box)
        if len(points) <= 2 * MAX_POINTS:
            found = points
    # A cluster's cell at this zoom: what a click on it zooms to.
    cell = 2.0 ** (cluster_shift(zoom)) / 1e7
    for item in found:
        lon, lat = item.lon_e7 / 1e7, item.lat_e7 / 1e7
        if isinstance(item, Point):
            into.points.append(
                CameraPoint(
                    item.id.hex() if item.id else None,
                    lon,
                    lat,
                    item.status,
                    item.frt or "unknown",
                )
            )
        else:
            west = math.floor((lon + 180) / cell) * cell - 180
            south = math.floor((lat + 90) / cell) * cell - 90
            bbox = (west, south, west + cell, min(90.0, south + cell))
            into.clusters.append(CameraCluster(item.count, lon, lat, bbox))


async def incident_cells(
    data: MapData, page: PageFilter, view: MapView, minimum: int, into: MapFeatures
) -> None:
    """The shown incident groups meeting ``view``, coarse ones first (drawn beneath)."""
    groups: AreaCells = await data.area_cells(page.query("incident"), minimum)
    west, south, east, north = view.bbox
    precision = precision_for_zoom(_data_zoom(view) + CELL_ZOOM)
    while True:
        cells = list(groups.cells(precision, west, south, east, north))
        if len(cells) <= MAX_CELLS or precision == 1:
            break
        precision -= 1
    cells.sort(key=lambda cell: (cell.precision, cell.geohash))
    for cell in cells[:MAX_CELLS]:
        into.cells.append(IncidentCell(cell.geohash, cell.count, cell.bounds))
    into.hidden_incidents = groups.hidden


async def surveyed(data: MapData, queries: RecordQueries) -> frozenset[str]:
    """The countries where a chapter collects data: those chapters name, and those some
    public record is in (someone collected it), counted by the stats rollup."""
    countries = set((await data.surveyed(PUBLIC)).countries)
    everything = PageFilter({})
    for kind in ("deployment", "incident"):
        found = await queries.stats(everything.query(kind), ["country"])
        countries.update(str(g.keys["country"]) for g in found.groups if g.keys.get("country"))
    return frozenset(countries)


async def extent(data: MapData, minimum: int) -> Bbox | None:
    """Where the node's public data is (the default view): the clusters of the whole
    world and the shown incident groups (of at least ``minimum``), summed to coarse cells."""
    world = (-1_800_000_000, -900_000_000, 1_800_000_000, 900_000_000)
    everything = PageFilter({})
    found = await data.clusters(everything.query("deployment"), cluster_shift(3), world)
    lons = [item.lon_e7 / 1e7 for item in found]
    lats = [item.lat_e7 / 1e7 for item in found]
    groups = await data.area_cells(everything.query("incident"), minimum)
    for cell in groups.cells(EXTENT_PRECISION, -180, -90, 180, 90):
        west, south, east, north = cell.bounds
        lons += [west, east]
        lats += [south, north]
    if not lons:
        return None
    return (min(lons), min(lats), max(lons), max(lats))
