"""The no-script map as a drawing: every shape in drawing units, every link it carries.

:func:`drawing` turns a view and its features (:mod:`node.web.mapfeatures`) into
what ``map_svg.html`` writes out: the land (:mod:`node.web.outlines`), the
"not surveyed" hatching (the view minus the surveyed areas), incident cells
with their counts, camera clusters with theirs, and camera points. A cell or a
cluster links to the view of its own bounds, so a click zooms in to it; a
point links to the camera's page. Each kind of shape is capped
(:data:`MAX_CELLS`, ``mapfeatures.MAX_POINTS``), so a page stays small and
quick whatever the data.
"""

import math
from dataclasses import dataclass, replace
from typing import Final

from node.web.filters import PageFilter
from node.web.i18n import N_, Catalog
from node.web.mapfeatures import CameraCluster, CameraPoint, IncidentCell, MapFeatures
from node.web.mapview import HEIGHT, WIDTH, Bbox, MapView
from node.web.outlines import outline_path

MAX_CELLS: Final = 400
MIN_LABELLED: Final = 28  # units: a narrower cell's count is not written on it
MAX_CLUSTERS: Final = 400
CELL_LABEL: Final = N_("map.cell_label")
CLUSTER_LABEL: Final = N_("map.cluster_label")
POINT_LABEL: Final = N_("map.point_label")
# FRT capability: a shape each (colour too, but never colour alone).
FRT_SHAPES: Final = {"confirmed": "triangle", "suspected": "diamond", "unknown": "circle"}


@dataclass(frozen=True)
class DrawnCell:
    x: float
    y: float
    width: float
    height: float
    count: int
    href: str
    level: int  # 1..4: how dark, by count relative to the view's largest; 0: coarse
    label_x: float
    label_y: float
    cell: IncidentCell
    label: str

    labelled: bool = False  # the count written on it (else the list and the link say it)


@dataclass(frozen=True)
class DrawnCluster:
    x: float
    y: float
    radius: float
    count: int
    href: str
    cluster: CameraCluster
    label: str

    @property
    def short_count(self) -> str:
        """The count as the disc shows it: 950, 9.5k, 41k."""
        if self.count < 1000:
            return str(self.count)
        if self.count < 10_000:
            return f"{self.count / 1000:.1f}k"
        return f"{round(self.count / 1000)}k"


@dataclass(frozen=True)
class DrawnPoint:
    x: float
    y: float
    shape: str
    status: str
    frt: str
    href: str
    point: CameraPoint
    label: str


@dataclass(frozen=True)
class Drawing:
    width: int
    height: int
    land: str
    unsurveyed: str  # the outlines of the countries no chapter surveys
    cells: list[DrawnCell]
    clusters: list[DrawnCluster]
    points: list[DrawnPoint]


def _zoom_link(
    page: PageFilter, path: str, lang: str, view: MapView, extra: dict[str, str | None]
) -> str:
    return page.link(path, lang, bbox=view.bbox_text, **extra)


def drawing(
    view: MapView,
    features: MapFeatures,
    page: PageFilter,
    *,
    path: str,
    t: Catalog,
    kind: str | None,
    detail_base: str,
) -> Drawing:
    lang = t.lang
    extra = {"kind": kind}
    cells = []
    largest = max((cell.count for cell in features.cells), default=1)
    finest = max((len(cell.area) for cell in features.cells), default=0)
    for cell in features.cells[:MAX_CELLS]:
        x, y, w, h = view.rect(cell.bbox)
        cx, cy = _clamp(x + w / 2, y + h / 2)
        target = MapView.fitting(cell.bbox, margin=0.1)
        level = 1 + min(3, int(4 * math.log1p(cell.count) / math.log1p(largest + 1)))
        if len(cell.area) < finest:  # what finer cells could not show: an outline only
            level = 0
        cells.append(
            DrawnCell(
                *_clip_rect(x, y, w, h),
                cell.count,
                _zoom_link(page, path, lang, target, extra),
                level,
                cx,
                cy,
                cell,
                t(CELL_LABEL) % {"count": cell.count, "place": _place(cell.bbox)},
            )
        )
    clusters = []
    for cluster in sorted(features.clusters, key=lambda c: -c.count)[:MAX_CLUSTERS]:
        x, y = view.project(cluster.lon, cluster.lat)
        radius = 11 + 3 * math.log10(cluster.count)
        target = MapView.fitting(cluster.bbox, margin=0.2)
        if target.span >= view.span:
            target = view.zoomed(2)
        clusters.append(
            DrawnCluster(
                round(x, 1),
                round(y, 1),
                round(radius, 1),
                cluster.count,
                _zoom_link(page, path, lang, target, extra),
                cluster,
                t(CLUSTER_LABEL) % {"count": cluster.count, "place": _place(cluster.bbox)},
            )
        )
    points = []
    for point in features.points:
        x, y = view.project(point.lon, point.lat)
        if point.id is None:  # a lone camera among clusters: a click zooms in to it
            href = _zoom_link(page, path, lang, view.centred(point.lon, point.lat, 8), extra)
        else:
            href = f"{detail_base}/{point.id}?lang={lang}"
        points.append(
            DrawnPoint(
                round(x, 1),
                round(y, 1),
                FRT_SHAPES.get(point.frt, "circle"),
                point.status,
                point.frt,
                href,
                point,
                t(POINT_LABEL)
                % {"status": t(f"record_status.{point.status}"), "frt": t(f"frt.{point.frt}")},
            )
        )
    surveyed = features.surveyed
    unsurveyed = outline_path(view, lambda country: country not in surveyed)
    cells = [replace(cell, labelled=_room_for_count(cell, clusters)) for cell in cells]
    return Drawing(WIDTH, HEIGHT, outline_path(view), unsurveyed, cells, clusters, points)


def _room_for_count(cell: DrawnCell, clusters: list[DrawnCluster]) -> bool:
    """Whether a cell's count can be written on it: its middle is in view, the number
    fits, and no cluster's disc (whose count it would cover) is in the way."""
    x, y = cell.label_x, cell.label_y
    middle_x, middle_y = cell.x + cell.width / 2, cell.y + cell.height / 2
    if abs(middle_x - x) > 1 or abs(middle_y - y) > 1:
        return False  # the middle is out of view
    if cell.width < max(MIN_LABELLED, 10 * len(str(cell.count)) + 6) or cell.height < 18:
        return False
    return all(math.hypot(c.x - x, c.y - y) > c.radius + 16 for c in clusters)


def _place(bbox: Bbox) -> str:
    """Where a cell or cluster is, in words a screen reader can say: its middle."""
    lon, lat = (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2
    return f"{abs(lat):.2f}°{'N' if lat >= 0 else 'S'} {abs(lon):.2f}°{'E' if lon >= 0 else 'W'}"


def _clamp(x: float, y: float) -> tuple[float, float]:
    return (round(min(max(x, 12), WIDTH - 12), 1), round(min(max(y, 12), HEIGHT - 8), 1))


def _clip_rect(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
    """A rectangle cut to the drawing (plus a unit), so huge cells write small numbers."""
    x0, y0 = max(x, -1), max(y, -1)
    x1, y1 = min(x + w, WIDTH + 1), min(y + h, HEIGHT + 1)
    return (round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1))
