"""The basemap of the no-script map: country outlines, as an SVG path for a view.

The outlines are Natural Earth's, built by ``deploy/outlines.py`` into
GeoJSON files under ``node/web/static/outlines/`` (the script map loads the
same files). They are read once, on first use, and kept projected to world
units (:mod:`node.web.mapview`) with each ring's bounding box, so a view costs
only the rings it touches: the coarse level for a continent or more, the finer
one closer in. Each ring is clipped to the view (with a margin, so strokes at
the edge stay whole), rounded to whole units of the drawing and stripped of
repeated points, which keeps the page small at every zoom.
"""

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from aiohttp import web

from node.state import TASKS, after_start_sync
from node.web.mapview import HEIGHT, WIDTH, MapView, mercator_x, mercator_y

OUTLINES: Final = Path(__file__).resolve().parent / "static" / "outlines"
# (file, the largest view span it draws): the finer file from a span of 1/6 of the world.
LEVELS: Final = (("outlines-110m.json", 1.0), ("outlines-50m.json", 1 / 6))
# The file the script map loads as its outline source (small enough for a phone).
SCRIPT_OUTLINES: Final = "outlines/outlines-110m.json"
MARGIN: Final = 0.05  # of the view, each side
# Closer than this zoom the finer file's points are all further apart than a unit.
MAX_DECIMATED: Final = 12

Ring = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class ProjectedRing:
    min_x: float
    min_y: float
    max_x: float
    max_y: float
    points: Ring
    country: str  # ISO 3166-1 alpha-2, or ""


@cache
def level(name: str) -> tuple[ProjectedRing, ...]:
    """Every ring of one outline file, in world units (read once)."""
    collection = json.loads((OUTLINES / name).read_text())
    rings = []
    for feature in collection["features"]:
        country = feature["properties"].get("iso_a2", "")
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                points = tuple((mercator_x(lon), mercator_y(lat)) for lon, lat in ring)
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                rings.append(ProjectedRing(min(xs), min(ys), max(xs), max(ys), points, country))
    return tuple(rings)


@cache
def decimated(name: str, zoom: int) -> tuple[ProjectedRing, ...]:
    """One file's rings for views of ``zoom`` (whole steps): points closer than half a unit
    of such a drawing to the last one kept are dropped, and rings smaller than a unit."""
    unit = 2.0**-zoom / WIDTH
    rings = []
    for ring in level(name):
        if ring.max_x - ring.min_x < unit and ring.max_y - ring.min_y < unit:
            continue
        kept = [ring.points[0]]
        for point in ring.points[1:]:
            last = kept[-1]
            if abs(point[0] - last[0]) >= unit / 2 or abs(point[1] - last[1]) >= unit / 2:
                kept.append(point)
        if len(kept) >= 3:
            rings.append(
                ProjectedRing(
                    ring.min_x, ring.min_y, ring.max_x, ring.max_y, tuple(kept), ring.country
                )
            )
    return tuple(rings)


def warm() -> None:
    """Read both files and decimate them for every zoom now (about a second of CPU),
    so no visitor waits for it; once per process, as the results are kept."""
    for zoom in range(MAX_DECIMATED + 1):
        decimated(level_for(MapView.around(0.5, 0.5, 2.0**-zoom)), zoom)


async def warm_outlines(app: web.Application) -> None:
    """An ``on_startup`` hook: :func:`warm` in a thread, in the background. Awaiting it
    here held the node's start (its federation's first sync among it) for seconds on a
    busy machine; a visitor who comes first waits for the outlines instead."""
    app[TASKS].start("warm-outlines", after_start_sync(app, lambda: asyncio.to_thread(warm)))


def level_for(view: MapView) -> str:
    name = LEVELS[0][0]
    for candidate, largest_span in LEVELS:
        if view.span <= largest_span:
            name = candidate
    return name


def outline_path(view: MapView, countries: Callable[[str], bool] | None = None) -> str:
    """The SVG path data of the outlines in ``view``, in drawing units: every country's,
    or those whose ISO alpha-2 code ``countries`` accepts."""
    scale = WIDTH / view.span
    pad_x, pad_y = view.span * MARGIN, view.height * MARGIN
    left, top = view.x - pad_x, view.y - pad_y
    right, bottom = view.x + view.span + pad_x, view.y + view.height + pad_y
    box = (-WIDTH * MARGIN, -HEIGHT * MARGIN, WIDTH * (1 + MARGIN), HEIGHT * (1 + MARGIN))
    parts: list[str] = []
    for ring in decimated(level_for(view), min(MAX_DECIMATED, max(0, int(view.zoom)))):
        if ring.max_x < left or ring.min_x > right or ring.max_y < top or ring.min_y > bottom:
            continue
        if countries is not None and not countries(ring.country):
            continue
        if (ring.max_x - ring.min_x) * scale < 1 and (ring.max_y - ring.min_y) * scale < 1:
            continue  # smaller than one unit of the drawing
        drawn = [((x - view.x) * scale, (y - view.y) * scale) for x, y in ring.points]
        if ring.min_x < left or ring.max_x > right or ring.min_y < top or ring.max_y > bottom:
            drawn = clip(drawn, box)
        parts.append(_path(drawn))
    return "".join(parts)


def _path(points: list[tuple[float, float]]) -> str:
    """A closed ring as ``M x y l dx dy ... z`` in whole units, repeats dropped."""
    out: list[str] = []
    last: tuple[int, int] | None = None
    for x, y in points:
        here = (round(x), round(y))
        if last is None:
            out.append(f"M{here[0]} {here[1]}l")
        elif here != last:
            out.append(f"{here[0] - last[0]} {here[1] - last[1]} ")
        last = here
    if len(out) < 3:
        return ""
    return "".join(out).rstrip() + "z"


def clip(
    points: list[tuple[float, float]], box: tuple[float, float, float, float]
) -> list[tuple[float, float]]:
    """A polygon clipped to a rectangle (Sutherland-Hodgman; enough for filled outlines)."""
    x0, y0, x1, y1 = box
    # (axis, bound, whether inside is above the bound)
    for axis, bound, above in ((0, x0, True), (0, x1, False), (1, y0, True), (1, y1, False)):
        if not points:
            break
        result: list[tuple[float, float]] = []
        previous = points[-1]
        was_inside = (previous[axis] >= bound) == above or previous[axis] == bound
        for point in points:
            inside = (point[axis] >= bound) == above or point[axis] == bound
            if inside != was_inside:
                result.append(_crossing(previous, point, axis, bound))
            if inside:
                result.append(point)
            previous, was_inside = point, inside
        points = result
    return points


def _crossing(
    a: tuple[float, float], b: tuple[float, float], axis: int, bound: float
) -> tuple[float, float]:
    """Where the segment a-b crosses the line ``axis == bound``."""
    t = (bound - a[axis]) / (b[axis] - a[axis])
    other = a[1 - axis] + t * (b[1 - axis] - a[1 - axis])
    return (bound, other) if axis == 0 else (other, bound)
