"""The small map of an agency's page: its cameras, and its incidents as area counts.

The map page's drawing (:mod:`node.web.mapsvg`) of the deployments and
incidents that point at the agency (any version of it): cameras as points (at
most :data:`MAX_POINTS`, the most recent), incidents only as the area cells of
:func:`storage.areacells.suppress` over the agency's own incidents, so no cell
holds fewer than ``[site] min_incidents_per_cell`` of them, exactly the rule
of the map page under a filter. The view fits what is drawn; a point links to
the camera's page, a cell to the map page zoomed to it. Nothing here is
hatched "not surveyed": the map shows one agency's records, not coverage.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from node.web.filters import PageFilter
from node.web.i18n import N_, Catalog
from node.web.mapfeatures import CameraPoint, IncidentCell, MapFeatures
from node.web.mapsvg import Drawing, drawing
from node.web.mapview import MapView
from protocol.countries import COUNTRY_CODES
from storage.areacells import precision_for_zoom, suppress
from storage.campaignreads import CampaignReads, Condition

MAX_POINTS: Final = 300
MAX_CELLS: Final = 200
# The closest the map comes: a city and its surroundings (about 40 km across).
MAX_ZOOM: Final = 10
# Incident cells are drawn one precision coarser than the map page would at the view's
# zoom: the small map is half as wide on a screen, and a cell must hold its count.
CELL_PRECISION: Final = -1
# The precision of the cells the view fits (about 40 km by 20 km).
EXTENT_PRECISION: Final = 4
SUMMARY: Final = N_("agency.map_summary")


@dataclass(frozen=True)
class AgencyMap:
    drawing: Drawing
    summary: str  # the map in one sentence, for screen readers
    cameras_drawn: int
    cameras_total: int


async def agency_map(
    reads: CampaignReads, refs: Sequence[bytes], minimum: int, cameras: int, t: Catalog
) -> AgencyMap | None:
    """The drawing of what points at ``refs``; None when nothing can be drawn."""
    condition = Condition().within("r.agency_ref", refs)
    found = await reads.points(condition, MAX_POINTS)
    # No "area IS NOT NULL" term: with it SQLite walks the map's partial area index
    # (every incident with an area) instead of the agency's few through agency_ref.
    counts = await reads.groups("incident", Condition().within("r.agency_ref", refs), ["r.area"])
    cells = suppress({area: count for area, count in counts if area}, minimum)
    lons = [lon_e7 / 1e7 for _, lon_e7, _, _, _ in found]
    lats = [lat_e7 / 1e7 for lat_e7, _, _, _, _ in found]
    for cell in cells.cells(EXTENT_PRECISION, -180, -90, 180, 90):
        west, south, east, north = cell.bounds
        lons += [west, east]
        lats += [south, north]
    if not lons:
        return None
    view = MapView.fitting((min(lons), min(lats), max(lons), max(lats)), margin=0.2)
    if view.zoom > MAX_ZOOM:  # a city around the records, where its areas' counts fit
        view = MapView.around(view.x + view.span / 2, view.y + view.height / 2, 2.0**-MAX_ZOOM)
    features = MapFeatures(surveyed=frozenset(COUNTRY_CODES), hidden_incidents=cells.hidden)
    for lat_e7, lon_e7, record_id, status, frt in found:
        features.points.append(
            CameraPoint(record_id.hex(), lon_e7 / 1e7, lat_e7 / 1e7, status, frt or "unknown")
        )
    west, south, east, north = view.bbox
    precision = max(1, precision_for_zoom(max(0, int(view.zoom))) + CELL_PRECISION)
    while True:
        shown = list(cells.cells(precision, west, south, east, north))
        if len(shown) <= MAX_CELLS or precision == 1:
            break
        precision -= 1
    shown.sort(key=lambda cell: (cell.precision, cell.geohash))
    for cell in shown[:MAX_CELLS]:
        features.cells.append(IncidentCell(cell.geohash, cell.count, cell.bounds))
    drawn = drawing(
        view, features, PageFilter({}), path="/map", t=t, kind=None, detail_base="/deployments"
    )
    summary = t(SUMMARY) % {
        "cameras": len(found),
        "incidents": sum(cell.count for cell in features.cells),
        "cells": len(features.cells),
    }
    return AgencyMap(drawn, summary, len(found), cameras)
