"""The map's data as vector tiles and as GeoJSON, for the JavaScript map and anyone else.

GET /tiles/{z}/{x}/{y}.mvt    a Mapbox Vector Tile (layers ``deployments``,
                              ``clusters``, ``incidents``)
GET /tiles/data.geojson       the same features in a box at a zoom, as GeoJSON

Both take the site's filters (:mod:`node.web.filters`), show the ``public``
audience only, and go through the read gate and the answer cache like the pages
(``ETag``, ``Cache-Control``, ``304``), so an HTTP cache in front carries a crowd;
their answers, and the incident groups they draw, may be up to ``[site]
map_max_age_s`` old while writes arrive (:class:`node.reads.Reads`, ``lag``;
their ``Cache-Control`` says so), so a publisher writing does not make every
tile be computed again per write, nor every tile once a second.
They live under ``/tiles/``, a machine path: bad input is a ``400``
problem+json naming the parameter, never an HTML page. A tile outside the
zoom's grid (``x`` or ``y`` of ``2**z`` or more) or beyond :data:`MAX_ZOOM` is a
``400`` too: it is a malformed request, not a missing resource.

What the layers hold is :mod:`storage.mapdata`'s: deployments as points with
their status and FRT capability, clusters with counts at low zoom, incidents
only as cell counts that never show a group below ``[site]
min_incidents_per_cell`` (:mod:`storage.areacells`).
"""

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from node.params import MAX_ZOOM
from node.problems import BadParameter
from node.readcache import Answer
from node.reads import AS_OF, READS
from node.state import CONFIG, STORE, TASKS, after_start_sync
from node.web.filters import PageFilter, page_filter
from node.web.geojson import EXTRA, geojson_answer, parse_view
from node.web.site import PUBLIC, SITE
from storage.areacells import AreaCells, precision_for_zoom
from storage.filters import QueryKind
from storage.mapdata import Box, Cluster, Point

routes = web.RouteTableDef()

EXTENT: Final = 4096
# How far past its edges a tile draws a cell (in tile units), so edges do not show seams.
BUFFER: Final = 64
MVT: Final = "application/vnd.mapbox-vector-tile"
KINDS: Final[tuple[QueryKind, ...]] = ("deployment", "incident")
# Cells are drawn as boxes whose rings already wind as the MVT spec asks (checked by
# decoding in tests): checking each again halved the encoder's speed.
_OPTIONS: Final = {"extents": EXTENT, "y_coord_down": True, "check_winding_order": False}


def tile_box(z: int, x: int, y: int) -> Box:
    """(west, south, east, north) of a Web Mercator tile in 1e-7 degrees. Each edge is
    computed from the tile numbers alone, so neighbouring tiles share it exactly."""
    span = 3_600_000_000
    west = x * span // (1 << z) - 1_800_000_000
    east = (x + 1) * span // (1 << z) - 1_800_000_000
    return west, _row_lat_e7(z, y + 1), east, _row_lat_e7(z, y)


def _row_lat_e7(z: int, y: int) -> int:
    """The latitude (1e-7 degrees) of the top edge of row ``y`` at zoom ``z``."""
    radians = math.atan(math.sinh(math.pi * (1 - 2 * y / (1 << z))))
    return math.floor(math.degrees(radians) * 10_000_000)


def _project(z: int, x: int, y: int) -> Callable[[float, float], tuple[float, float]]:
    """Degrees (lon, lat) to this tile's units (0..EXTENT, y down)."""
    scale = 1 << z
    max_lat = 85.05112878

    def project(lon: float, lat: float) -> tuple[float, float]:
        lat = max(min(lat, max_lat), -max_lat)
        px = ((lon + 180) / 360 * scale - x) * EXTENT
        sin = math.sin(math.radians(lat))
        py = ((0.5 - math.log((1 + sin) / (1 - sin)) / (4 * math.pi)) * scale - y) * EXTENT
        return px, py

    return project


def _clamp(value: float) -> float:
    return min(max(value, -BUFFER), EXTENT + BUFFER)


def _import_encoder() -> None:
    """Import the tile encoder and the geometry it clips with (see :func:`encode_tile`)."""
    import mapbox_vector_tile  # noqa: F401
    import shapely.geometry  # noqa: F401


async def warm_map(app: web.Application) -> None:
    """An ``on_startup`` hook: import the tile encoder in a thread and compute the default
    map's incident groups (no filter but the public audience), both in the background
    once the start-up sync is done (:func:`node.state.after_start_sync`), so the first
    tile after a start does not pay for them (60-300 ms for the import on the bench's
    node, bench/README.md) unless it comes within that time.

    Not awaited: a node that listened only after the import made its peers' start-up
    sync fail to connect, and they waited a whole sync interval to try again."""
    app[TASKS].start(
        "warm-encoder", after_start_sync(app, lambda: asyncio.to_thread(_import_encoder))
    )
    default = PageFilter({}).query("incident")
    minimum = app[SITE].min_incidents_per_cell
    data = app[STORE].map
    app[TASKS].start("warm-map", after_start_sync(app, lambda: data.warm(default, minimum)))


def encode_tile(z: int, x: int, y: int, found: list[Point | Cluster], cells: AreaCells) -> bytes:
    """The tile's three layers, encoded."""
    # Imported here, not at the top: with numpy under them they took a tenth of a
    # second of every ``banscan`` command's start, and only tiles need them (a node
    # imports them in the background as it starts: :func:`warm_map`).
    import mapbox_vector_tile
    from shapely.geometry import Point as ShapelyPoint
    from shapely.geometry import box as shapely_box

    project = _project(z, x, y)
    deployments: list[dict[str, Any]] = []
    clusters: list[dict[str, Any]] = []
    for item in found:
        px, py = project(item.lon_e7 / 1e7, item.lat_e7 / 1e7)
        geometry = ShapelyPoint(round(px), round(py))
        if isinstance(item, Point):
            properties = {"status": item.status, "frt": item.frt}
            if item.id is not None:
                properties["id"] = item.id.hex()
            deployments.append({"geometry": geometry, "properties": properties})
        else:
            properties_c = {"count": item.count, "frt_confirmed": item.frt_confirmed}
            clusters.append({"geometry": geometry, "properties": properties_c})
    incidents: list[dict[str, Any]] = []
    west, south, east, north = tile_box(z, x, y)
    for cell in cells.cells(
        precision_for_zoom(z), west / 1e7, south / 1e7, east / 1e7, north / 1e7
    ):
        cw, cs, ce, cn = cell.bounds
        left, top = project(cw, cn)
        right, bottom = project(ce, cs)
        geometry = shapely_box(
            round(_clamp(left)), round(_clamp(top)), round(_clamp(right)), round(_clamp(bottom))
        )
        if geometry.area == 0:
            continue
        incidents.append(
            {"geometry": geometry, "properties": {"count": cell.count, "cell": cell.geohash}}
        )
    layers = [
        {"name": "incidents", "features": incidents},
        {"name": "clusters", "features": clusters},
        {"name": "deployments", "features": deployments},
    ]
    encoded: bytes = mapbox_vector_tile.encode(layers, default_options=_OPTIONS)
    return encoded


def _tile_number(request: web.Request, name: str, limit: int) -> int:
    text = request.match_info[name]
    if not text.isascii() or not text.isdigit() or len(text) > 7 or int(text) >= limit:
        raise BadParameter(name, f"must be a whole number from 0 to {limit - 1}")
    return int(text)


async def _cached(
    request: web.Request, build: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    reads = request.app[READS]
    lag = request.app[CONFIG].site.map_max_age_s
    answer = await reads.answer(request, build, key=request.path_qs, lag=lag)
    if isinstance(answer, Answer):
        return reads.respond(request, answer, lag=lag)
    return answer


def map_kinds(request: web.Request) -> tuple[QueryKind, ...]:
    """The kinds the map shows: ``kind`` (as on ``/map``), else both."""
    kind = request.query.get("kind", "").strip()
    if not kind:
        return KINDS
    if kind not in KINDS:
        raise BadParameter("kind", f"must be one of {', '.join(KINDS)}, or empty for both")
    return (kind,)


async def _layers(
    request: web.Request, page: PageFilter, zoom: int, box: Box
) -> tuple[list[Point | Cluster], AreaCells]:
    store = request.app[STORE]
    kinds = map_kinds(request)
    found: list[Point | Cluster] = []
    if "deployment" in kinds and page.applies_to("deployment"):
        found = await store.map.deployments(page.query("deployment"), zoom, box)
    minimum = request.app[SITE].min_incidents_per_cell
    if "incident" in kinds and page.applies_to("incident"):
        cells, as_of, version = await store.map.area_cells_as_of(page.query("incident"), minimum)
        request[AS_OF] = (as_of, version)
    else:
        cells = AreaCells(minimum, {}, 0)
    return found, cells


@routes.get("/tiles/{z}/{x}/{y}.mvt")
async def tile(request: web.Request) -> web.StreamResponse:
    z = _tile_number(request, "z", MAX_ZOOM + 1)
    x = _tile_number(request, "x", 1 << z)
    y = _tile_number(request, "y", 1 << z)
    page = page_filter(request, ("kind",))
    map_kinds(request)

    async def build(request: web.Request) -> web.StreamResponse:
        found, cells = await _layers(request, page, z, tile_box(z, x, y))
        return web.Response(body=encode_tile(z, x, y, found, cells), content_type=MVT)

    return await _cached(request, build)


@routes.get("/tiles/data.geojson")
async def data(request: web.Request) -> web.StreamResponse:
    page = page_filter(request, EXTRA)
    view = parse_view(request, MAX_ZOOM)
    map_kinds(request)

    async def build(request: web.Request) -> web.StreamResponse:
        found, cells = await _layers(request, page, view.zoom, view.box)
        node = request.app[CONFIG].node
        own = (node.country or None, node.city or None)
        surveyed = await request.app[STORE].map.surveyed(PUBLIC, own)
        minimum = request.app[SITE].min_incidents_per_cell
        return geojson_answer(view, found, cells, surveyed, minimum)

    return await _cached(request, build)
