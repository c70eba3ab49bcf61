"""The map of where facial recognition is deployed, and the same map for other sites' frames.

GET /map          the map, the filter form, a legend, and the list of what is in view
GET /embed/map    the map alone (same parameters), for an iframe on a partner's site

Without JavaScript the map is an SVG the server draws (:mod:`node.web.mapsvg`):
country outlines, cameras as points (or clusters with counts when too many
are in view), incidents only as counts per area cell, never as points, and
the areas where no chapter collects data hatched as "not surveyed". Links
zoom and pan (the view is the ``bbox`` in the URL); a cluster or a cell links
to its own view. With JavaScript, ``map.js`` draws the same data with
MapLibre from the ``data-`` attributes of ``#map`` (the tile and GeoJSON
URLs, the basemap, the view), so only this page's policy allows scripts,
workers and ``fetch`` to the node. ``/embed/map`` may be framed by the
``[site] embed_origins`` only, and its links open the node's own pages in a
new tab.
"""

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web

from node.problems import BadParameter
from node.security import content_security_policy
from node.state import CONFIG, STORE
from node.web import mapfeatures
from node.web.act import CALL_SHOWN, act_link, open_actions
from node.web.basemap import basemap_attribute, basemap_problem
from node.web.filters import PageFilter, form_fields, page_filter, value_label
from node.web.i18n import N_, Catalog, countries
from node.web.mapfeatures import MapFeatures
from node.web.mapsvg import Drawing, drawing
from node.web.mapview import MapView, view_of
from node.web.outlines import SCRIPT_OUTLINES
from node.web.site import PUBLIC, SITE, daily_page, html, public_page, render, utc_day
from node.web.static import FILES, static_url
from storage.campaignreads import CampaignReads
from storage.filters import QueryKind

routes = web.RouteTableDef()

KINDS: Final[tuple[QueryKind, ...]] = ("deployment", "incident")
MAP_PARAMETERS: Final = ("bbox", "kind")
MAX_LISTED: Final = 100  # rows of the list under the map
# The script map's files, included when present (vendored by deploy/vendor.py).
SCRIPTS: Final = ("vendor/maplibre-gl/dist/maplibre-gl-csp.js", "map.js")
STYLES: Final = ("vendor/maplibre-gl/dist/maplibre-gl.css",)
PMTILES_SCRIPT: Final = "vendor/pmtiles/dist/pmtiles.js"
WORKER: Final = "vendor/maplibre-gl/dist/maplibre-gl-csp-worker.js"
SUMMARY_CAMERAS: Final = N_("map.summary_cameras")
SUMMARY_INCIDENTS: Final = N_("map.summary_incidents")
SUMMARY_NOTHING: Final = N_("map.summary_nothing")
SUMMARY_HIDDEN: Final = N_("map.summary_hidden")
KIND_LABELS: Final = {
    "": N_("map.kind.both"),
    "deployment": N_("map.kind.deployment"),
    "incident": N_("map.kind.incident"),
}


@dataclass(frozen=True)
class MapState:
    """One view of the map: what the URL asks for, and what it shows."""

    page: PageFilter
    kind: str  # "", "deployment" or "incident"
    kinds: tuple[QueryKind, ...]
    view: MapView
    features: MapFeatures
    drawing: Drawing


async def map_state(request: web.Request, t: Catalog, path: str) -> MapState:
    page = page_filter(request, extra=MAP_PARAMETERS)
    kind = request.query.get("kind", "").strip()
    if kind and kind not in KINDS:
        raise BadParameter("kind", f"must be one of {', '.join(KINDS)}, or empty for both")
    wanted = (kind,) if kind else KINDS
    kinds = tuple(k for k in KINDS if k in wanted and page.applies_to(k))
    data = request.app[STORE].map
    minimum = request.app[SITE].min_incidents_per_cell
    bbox = request.query.get("bbox", "").strip() or None
    view = view_of(bbox, None if bbox else await mapfeatures.extent(data, minimum))
    features = MapFeatures()
    if "deployment" in kinds:
        await mapfeatures.cameras(data, page, view, features)
    if "incident" in kinds:
        await mapfeatures.incident_cells(data, page, view, minimum, features)
    features.surveyed = await mapfeatures.surveyed(data, request.app[STORE].queries)
    detail = drawing(
        view, features, page, path=path, t=t, kind=kind or None, detail_base="/deployments"
    )
    return MapState(page, kind, kinds, view, features, detail)


def map_context(request: web.Request, t: Catalog, state: MapState, path: str) -> dict[str, Any]:
    """What ``map.html`` and ``embed_map.html`` read."""
    page, view = state.page, state.view
    kind = state.kind or None

    def moved(target: MapView) -> str:
        return page.link(path, t.lang, bbox=target.bbox_text, kind=kind)

    filters = [(name, value) for name, value in page.values.items()]
    query = urlencode(filters + ([("kind", state.kind)] if state.kind else []))
    scripts = [static_url(name) for name in SCRIPTS if name in FILES]
    if basemap_attribute(request.app).startswith("pmtiles:") and PMTILES_SCRIPT in FILES:
        scripts.insert(1, static_url(PMTILES_SCRIPT))
    features = state.features
    return {
        "state": state,
        "d": state.drawing,
        "kinds": state.kinds,
        "summary": _summary(t, state),
        "zoom_in": moved(view.zoomed(2)) if view.can_zoom_in else None,
        "zoom_out": moved(view.zoomed(0.5)) if view.can_zoom_out else None,
        "pans": [
            (N_("map.pan_north"), moved(view.panned(0, -0.5))),
            (N_("map.pan_west"), moved(view.panned(-0.5, 0))),
            (N_("map.pan_east"), moved(view.panned(0.5, 0))),
            (N_("map.pan_south"), moved(view.panned(0, 0.5))),
        ],
        "whole_world": page.link(path, t.lang, bbox="-180,-85,180,85", kind=kind),
        "listed_points": []
        if features.clusters
        else sorted(features.points, key=lambda p: (-p.lat, p.lon))[:MAX_LISTED],
        "listed_clusters": state.drawing.clusters[:MAX_LISTED],
        "listed_cells": state.drawing.cells[:MAX_LISTED],
        "data": {
            "tiles": f"/tiles/{{z}}/{{x}}/{{y}}.mvt?{query}",
            "geojson": f"/tiles/data.geojson?{query}",
            "worker": static_url(WORKER) if WORKER in FILES else "",
            "outlines": static_url(SCRIPT_OUTLINES),
            "basemap": basemap_attribute(request.app),
            "bbox": view.bbox_text,
            "min-incidents": str(request.app[SITE].min_incidents_per_cell),
        },
        "basemap_problem": basemap_problem(request.app),
        "scripts": scripts,
        "styles": [static_url(name) for name in STYLES if name in FILES and scripts],
        "fields": form_fields(state.kinds or KINDS),
        "current": {**page.values, "kind": state.kind},
        "keep": [("bbox", request.query["bbox"])] if request.query.get("bbox") else [],
        "kind_labels": KIND_LABELS,
        "countries": list(countries(t.lang)),
        "value_label": value_label,
        "embed_href": page.link("/map", t.lang, bbox=view.bbox_text, kind=kind),
    }


def _summary(t: Catalog, state: MapState) -> str:
    """The map in one sentence, for screen readers (the SVG's description)."""
    parts = []
    if "deployment" in state.kinds:
        parts.append(t(SUMMARY_CAMERAS) % {"count": state.features.cameras})
    if "incident" in state.kinds:
        total = sum(cell.count for cell in state.features.cells)
        parts.append(t(SUMMARY_INCIDENTS) % {"count": total, "cells": len(state.features.cells)})
        if state.features.hidden_incidents:
            parts.append(t(SUMMARY_HIDDEN) % {"count": state.features.hidden_incidents})
    if not parts:
        parts.append(t(SUMMARY_NOTHING))
    return " ".join(parts)


@routes.get("/map")
@daily_page
async def map_page(request: web.Request, t: Catalog) -> web.Response:
    state = await map_state(request, t, "/map")
    context = map_context(request, t, state, "/map")
    # The call to act at the end: open actions of the filter's country and city, if any.
    country, city = state.page.values.get("country"), state.page.values.get("city")
    reads = CampaignReads(request.app[STORE].db, PUBLIC)
    today = utc_day(request.app[STORE].clock())
    actions = await open_actions(reads, today, t, country, city, CALL_SHOWN)
    switch = state.page.link("/map", "", bbox=request.query.get("bbox"), kind=state.kind or None)
    page = render(
        request,
        "map.html",
        t,
        switch_to=switch.removesuffix("lang=").rstrip("?&"),
        nav="map",
        call_actions=actions,
        act_href=act_link(t.lang, country, city),
        **context,
    )
    policy = content_security_policy(scripts=True, workers=True, connect=True)
    return html(page, headers={"Content-Security-Policy": policy})


@routes.get("/embed/map")
@public_page
async def embed_map(request: web.Request, t: Catalog) -> web.Response:
    state = await map_state(request, t, "/embed/map")
    context = map_context(request, t, state, "/embed/map")
    page = render(request, "embed_map.html", t, switch_to=None, **context)
    origins = tuple(request.app[CONFIG].site.embed_origins)
    policy = content_security_policy(
        scripts=True, workers=True, connect=True, frame_ancestors=origins
    )
    return html(page, headers={"Content-Security-Policy": policy})
