"""The map's data as GeoJSON (RFC 7946): the view a request asks for, and the answer.

``GET /tiles/data.geojson?bbox=west,south,east,north&zoom=z`` answers a
FeatureCollection of the deployments (points, or clusters with counts) whose
position is in the box and the incident cells that meet it, as the tile of that
zoom would draw them. Each feature's ``properties.layer`` says which it is
(``deployment``, ``cluster``, ``incidents``), as the vector tiles' layer names.
Beside the features, members the RFC allows ("foreign members") say what the map
needs around them: ``hidden_incidents`` (incidents in areas too small to show),
``min_incidents_per_cell``, and ``surveyed``, the countries and cities where a
chapter collects data, so the rest can be marked "not surveyed" (the shipped
outlines' features carry the same codes as ``iso_a2``).
"""

from dataclasses import dataclass
from typing import Any, Final

import msgspec
from aiohttp import web

from node.problems import BadParameter
from storage.areacells import AreaCells, precision_for_zoom
from storage.mapdata import Box, Cluster, Point, Surveyed

# The parameters of the GeoJSON answer beyond the site's filters (and the map's kind).
EXTRA: Final = ("bbox", "zoom", "kind")
DEFAULT_ZOOM: Final = 2
GEOJSON: Final = "application/geo+json"


@dataclass(frozen=True)
class View:
    """A box in degrees (and in 1e-7 degrees) at a zoom."""

    west: float
    south: float
    east: float
    north: float
    zoom: int

    @property
    def box(self) -> Box:
        return (
            round(self.west * 1e7),
            round(self.south * 1e7),
            round(self.east * 1e7),
            round(self.north * 1e7),
        )


def parse_view(request: web.Request, max_zoom: int) -> View:
    """``bbox`` (default: the world) and ``zoom`` (default 2) of the request."""
    zoom_text = request.query.get("zoom", str(DEFAULT_ZOOM))
    if not zoom_text.isascii() or not zoom_text.isdigit() or int(zoom_text[:4]) > max_zoom:
        raise BadParameter("zoom", f"must be a whole number from 0 to {max_zoom}")
    bbox_text = request.query.get("bbox", "-180,-90,180,90")
    parts = bbox_text.split(",")
    try:
        west, south, east, north = (float(part) for part in parts)
    except ValueError:
        raise BadParameter(
            "bbox", "must be four numbers: west,south,east,north in degrees"
        ) from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise BadParameter(
            "bbox",
            "west < east within -180..180 and south < north within -90..90"
            " (a view across the antimeridian is two requests)",
        )
    return View(west, south, east, north, int(zoom_text))


# msgspec's encoder writes what json.dumps(separators=(",", ":"), ensure_ascii=False) does,
# ten times faster: a screen of New York at zoom 12 (2,148 features, 396 KB) took 6.5-7.8 ms
# to encode with json, 0.6-0.7 ms with it (bench/README.md, "Grid levels").
_encode = msgspec.json.Encoder().encode


def _position(lat_e7: int, lon_e7: int) -> list[float]:
    return [lon_e7 / 1e7, lat_e7 / 1e7]


def features(view: View, found: list[Point | Cluster], cells: AreaCells) -> list[dict[str, Any]]:
    """The view's features: incident cells first (drawn beneath), then deployments."""
    out: list[dict[str, Any]] = []
    for cell in cells.cells(
        precision_for_zoom(view.zoom), view.west, view.south, view.east, view.north
    ):
        west, south, east, north = cell.bounds
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        out.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"layer": "incidents", "count": cell.count, "cell": cell.geohash},
            }
        )
    for item in found:
        geometry = {"type": "Point", "coordinates": _position(item.lat_e7, item.lon_e7)}
        properties: dict[str, Any]
        if isinstance(item, Point):
            properties = {"layer": "deployment", "status": item.status, "frt": item.frt}
            if item.id is not None:
                properties["id"] = item.id.hex()
        else:
            properties = {
                "layer": "cluster",
                "count": item.count,
                "frt_confirmed": item.frt_confirmed,
            }
        out.append({"type": "Feature", "geometry": geometry, "properties": properties})
    return out


def geojson_answer(
    view: View,
    found: list[Point | Cluster],
    cells: AreaCells,
    surveyed: Surveyed,
    minimum: int,
) -> web.Response:
    collection = {
        "type": "FeatureCollection",
        "bbox": [view.west, view.south, view.east, view.north],
        "features": features(view, found, cells),
        "hidden_incidents": cells.hidden,
        "min_incidents_per_cell": minimum,
        "surveyed": {
            "countries": list(surveyed.countries),
            "cities": [list(pair) for pair in surveyed.cities],
        },
    }
    return web.Response(body=_encode(collection), content_type=GEOJSON)
