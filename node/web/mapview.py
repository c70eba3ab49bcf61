"""What part of the world the no-script map shows, and the links that move it.

The map is drawn in Web Mercator (the projection of MapLibre and of map tiles,
so the map with and without JavaScript shows the same shapes). A world
coordinate runs from 0 to 1 west to east and north to south, as in tile
addressing; latitudes beyond :data:`MAX_LAT` are cut off.

A view comes from the page's ``bbox`` parameter (``min_lon,min_lat,max_lon,max_lat``
in degrees, the API's order) and is widened to the map's fixed aspect ratio
(:data:`WIDTH` by :data:`HEIGHT` units), so any shared bbox draws undistorted.
Zooming halves or doubles the span around the centre; panning moves by half a
view; both stay inside the world. The bbox of each link is rounded to
:data:`DECIMALS` places so links stay short and the answer cache sees few
distinct URLs.
"""

import math
from dataclasses import dataclass
from typing import Final

from node.problems import BadParameter

WIDTH: Final = 1000
HEIGHT: Final = 640
MAX_LAT: Final = 85.05112878
DECIMALS: Final = 6
# The smallest span a view may have, in world units (about 150 m across the map):
# closer than this the map would only magnify the same points.
MIN_SPAN: Final = 2.0**-18

Bbox = tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat
WORLD: Final[Bbox] = (-180.0, -MAX_LAT, 180.0, MAX_LAT)


def mercator_x(lon: float) -> float:
    return (lon + 180.0) / 360.0


def mercator_y(lat: float) -> float:
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    sin = math.sin(math.radians(lat))
    return 0.5 - math.log((1 + sin) / (1 - sin)) / (4 * math.pi)


def longitude(x: float) -> float:
    return x * 360.0 - 180.0


def latitude(y: float) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y))))


def parse_bbox(text: str) -> Bbox:
    """A page's ``bbox``, checked; a bad one is a :class:`BadParameter` naming it."""
    parts = text.split(",")
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in parts)
    except ValueError:
        raise BadParameter(
            "bbox", "must be min_lon,min_lat,max_lon,max_lat in decimal degrees"
        ) from None
    if not all(math.isfinite(v) for v in (min_lon, min_lat, max_lon, max_lat)):
        raise BadParameter("bbox", "must be four finite numbers")
    if not (-180 <= min_lon < max_lon <= 180):
        raise BadParameter("bbox", "longitudes must be from -180 to 180, min below max")
    if not (-90 <= min_lat < max_lat <= 90):
        raise BadParameter("bbox", "latitudes must be from -90 to 90, min below max")
    return (min_lon, min_lat, max_lon, max_lat)


@dataclass(frozen=True)
class MapView:
    """A view: its west and north edges and its span, in world units (0..1)."""

    x: float
    y: float
    span: float  # the width; the height is span * HEIGHT / WIDTH

    @property
    def height(self) -> float:
        return self.span * HEIGHT / WIDTH

    @classmethod
    def around(cls, cx: float, cy: float, span: float) -> "MapView":
        """The view of ``span`` centred on (cx, cy), moved inside the world."""
        span = min(1.0, max(MIN_SPAN, span))
        height = span * HEIGHT / WIDTH
        x = min(max(cx - span / 2, 0.0), 1.0 - span)
        # A view taller than the world shows it in the middle.
        y = (1.0 - height) / 2 if height >= 1.0 else min(max(cy - height / 2, 0.0), 1.0 - height)
        return cls(x, y, span)

    @classmethod
    def fitting(cls, bbox: Bbox, margin: float = 0.0) -> "MapView":
        """The smallest view holding ``bbox`` (plus ``margin`` of its size each side)."""
        min_lon, min_lat, max_lon, max_lat = bbox
        x0, x1 = mercator_x(min_lon), mercator_x(max_lon)
        y0, y1 = mercator_y(max_lat), mercator_y(min_lat)
        width = (x1 - x0) * (1 + 2 * margin)
        height = (y1 - y0) * (1 + 2 * margin)
        span = max(width, height * WIDTH / HEIGHT)
        return cls.around((x0 + x1) / 2, (y0 + y1) / 2, span)

    @property
    def zoom(self) -> float:
        """The view's zoom: 0 shows the whole world's width, each step halves the span."""
        return -math.log2(self.span)

    @property
    def bbox(self) -> Bbox:
        return (
            round(longitude(self.x), DECIMALS),
            round(latitude(min(1.0, self.y + self.height)), DECIMALS),
            round(longitude(self.x + self.span), DECIMALS),
            round(latitude(max(0.0, self.y)), DECIMALS),
        )

    @property
    def bbox_text(self) -> str:
        return ",".join(f"{value:.{DECIMALS}f}" for value in self.bbox)

    def zoomed(self, factor: float) -> "MapView":
        """The view ``factor`` times as close (2: in, 0.5: out), same centre."""
        return MapView.around(self.x + self.span / 2, self.y + self.height / 2, self.span / factor)

    def centred(self, lon: float, lat: float, factor: float) -> "MapView":
        """The view ``factor`` times as close, centred on a point."""
        return MapView.around(mercator_x(lon), mercator_y(lat), self.span / factor)

    def panned(self, east: float, south: float) -> "MapView":
        """The view moved by ``east`` and ``south`` view widths/heights."""
        cx = self.x + self.span * (0.5 + east)
        cy = self.y + self.height * (0.5 + south)
        return MapView.around(cx, cy, self.span)

    @property
    def can_zoom_in(self) -> bool:
        return self.span > MIN_SPAN * 1.01

    @property
    def can_zoom_out(self) -> bool:
        return self.span < 0.999

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        """A point's position on the drawing (0..WIDTH, 0..HEIGHT inside the view)."""
        scale = WIDTH / self.span
        return ((mercator_x(lon) - self.x) * scale, (mercator_y(lat) - self.y) * scale)

    def contains(self, lon: float, lat: float) -> bool:
        px, py = self.project(lon, lat)
        return 0 <= px <= WIDTH and 0 <= py <= HEIGHT

    def rect(self, bbox: Bbox) -> tuple[float, float, float, float]:
        """A bbox's rectangle on the drawing: x, y, width, height (not clipped)."""
        min_lon, min_lat, max_lon, max_lat = bbox
        x0, y0 = self.project(min_lon, max_lat)
        x1, y1 = self.project(max_lon, min_lat)
        return (x0, y0, x1 - x0, y1 - y0)


def view_of(bbox_text: str | None, default: Bbox | None) -> MapView:
    """The view a page's ``bbox`` asks for; without one, ``default`` with a margin, or
    the world."""
    if bbox_text:
        return MapView.fitting(parse_bbox(bbox_text))
    if default is not None:
        return MapView.fitting(default, margin=0.15)
    return MapView.around(0.5, 0.5, 1.0)
