"""The public site's paths: HTML pages, the files they use, and the map's data.

Pages answer ``text/html`` in the visitor's language (``lang``, else
Accept-Language); an error on a page is a page too, except a request so malformed that
the connection answers it before any route is chosen (problem+json, status 400).
"""

from typing import Any

from node.api.openapi.parts import BAD_REQUEST, problem, query_parameter
from node.api.openapi.patterns import bbox
from node.api.openapi.records import filter_parameters
from node.params import MAX_FILTER_TEXT, MAX_ZOOM, PAGE_FILTERS

_HTML = {"text/html": {"schema": {"type": "string"}}}
# A request line or header aiohttp cannot parse (a URL over 8,190 bytes) is answered by
# the connection before any route, page or not, is chosen: as problem+json.
_HTML_OR_UNPARSABLE = {**_HTML, **BAD_REQUEST["content"]}
_LANG = query_parameter(
    "lang", "The page's language (else Accept-Language, else English)", {"enum": ["en", "es"]}
)


def html_page(
    operation_id: str,
    summary: str,
    statuses: dict[str, str],
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A page's GET: its statuses, each an HTML page; a 400 may also be the connection's
    problem+json, for a request the node cannot parse (node.connections)."""
    return {
        "operationId": operation_id,
        "summary": summary,
        "parameters": [_LANG, *(parameters or [])],
        "responses": {
            status: {
                "description": description,
                "content": _HTML_OR_UNPARSABLE if status == "400" else _HTML,
            }
            for status, description in statuses.items()
        },
    }


def _map_filters() -> list[dict[str, Any]]:
    """The site's filters (node.web.filters): the API's, each at most 200 characters, and
    the map's kind."""
    parameters = [
        query_parameter(
            "kind",
            "deployment or incident: only that kind (default both)",
            {"enum": ["deployment", "incident", ""]},
        )
    ]
    for parameter in filter_parameters(None):
        if parameter["name"] in PAGE_FILTERS:
            schema = {**parameter["schema"], "maxLength": MAX_FILTER_TEXT}
            parameters.append({**parameter, "schema": schema})
    return parameters


_TEXT = {"type": "string", "maxLength": MAX_FILTER_TEXT}
MAP_FILTERS = _map_filters()
_CACHED = {
    "304": {"description": "The client's copy (If-None-Match) is current"},
    "400": BAD_REQUEST,
}


def _tile_number(name: str, description: str, maximum: int) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "integer", "minimum": 0, "maximum": maximum},
    }


def map_data_paths() -> dict[str, Any]:
    """The map's vector tiles and GeoJSON (node.web.tiles): machine paths, problem+json."""
    return {
        "/tiles/{z}/{x}/{y}.mvt": {
            "get": {
                "operationId": "mapTile",
                "summary": "A Mapbox Vector Tile of the public map: layers deployments "
                "(points), clusters (counts) and incidents (area cells with at least "
                "min_incidents_per_cell incidents)",
                "parameters": [
                    _tile_number("z", "Zoom, 0 to 18", MAX_ZOOM),
                    _tile_number("x", "Column, 0 to 2**z - 1", (1 << MAX_ZOOM) - 1),
                    _tile_number("y", "Row from the north, 0 to 2**z - 1", (1 << MAX_ZOOM) - 1),
                    _LANG,
                    *MAP_FILTERS,
                ],
                "responses": {
                    "200": {
                        "description": "The tile",
                        "content": {
                            "application/vnd.mapbox-vector-tile": {
                                "schema": {"type": "string", "format": "binary"}
                            }
                        },
                    },
                    **_CACHED,
                },
            }
        },
        "/tiles/data.geojson": {
            "get": {
                "operationId": "mapData",
                "summary": "The public map's features in a box at a zoom, as GeoJSON "
                "(RFC 7946), with hidden_incidents, min_incidents_per_cell and surveyed",
                "parameters": [
                    query_parameter(
                        "bbox", "west,south,east,north in degrees (default the world)", bbox()
                    ),
                    query_parameter(
                        "zoom",
                        "The map's zoom, 0 to 18 (default 2)",
                        {"type": "integer", "minimum": 0, "maximum": MAX_ZOOM},
                    ),
                    _LANG,
                    *MAP_FILTERS,
                ],
                "responses": {
                    "200": {
                        "description": "A FeatureCollection",
                        "content": {"application/geo+json": {"schema": {"type": "object"}}},
                    },
                    **_CACHED,
                },
            }
        },
    }


_MAP_VIEW = [
    query_parameter(
        "bbox",
        "The view: min_lon,min_lat,max_lon,max_lat in degrees, widened to the map's shape "
        "(default: where the node's data is)",
        bbox(),
    ),
    *MAP_FILTERS,  # kind among them
]
_MAP_STATUSES = {"200": "The page", "400": "A page naming the parameter that was wrong"}


def _cached_page(operation_id: str, summary: str) -> dict[str, Any]:
    operation = html_page(operation_id, summary, _MAP_STATUSES, _MAP_VIEW)
    operation["responses"]["304"] = {"description": "The client's copy (If-None-Match) is current"}
    return operation


def _basemap_file(
    operation_id: str, summary: str, path: list[dict[str, Any]], media: tuple[str, ...]
) -> dict[str, Any]:
    content = {kind: {"schema": {"type": "string", "format": "binary"}} for kind in media}
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "parameters": path,
            "responses": {
                "200": {"description": "The file", "content": content},
                "206": {
                    "description": "The byte range asked for (Range; If-Range with the ETag)",
                    "content": content,
                },
                "304": {"description": "The client's copy (If-None-Match) is current"},
                "404": problem("No such file (or the basemap is the shipped outlines)"),
                "416": {"description": "The range is outside the file (Content-Range: */size)"},
            },
        }
    }


def _name(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "maxLength": 100},
    }


def map_page_paths() -> dict[str, Any]:
    """The map page, its embeddable twin and the operator's basemap (node.web.map,
    node.web.basemap)."""
    return {
        "/map": {
            "get": _cached_page(
                "mapPage",
                "The map: cameras as points or clusters, incidents as counts per area cell "
                "(never below min_incidents_per_cell), an SVG drawn by the server, with the "
                "filters, a legend and the list of what is in view",
            )
        },
        "/embed/map": {
            "get": _cached_page(
                "embeddedMap", "The map alone, for an iframe on the sites of [site] embed_origins"
            )
        },
        "/basemap/{name}": _basemap_file(
            "basemapFile",
            "The operator's PMTiles basemap ([site] basemap), read with Range requests",
            [_name("name", "The file's name, as in [site] basemap")],
            ("application/vnd.pmtiles",),
        ),
        "/basemap/fonts/{fontstack}/{range}": _basemap_file(
            "basemapGlyphs",
            "A range of a font's glyphs (a PBF), for the basemap's labels",
            [_name("fontstack", "The font's name"), _name("range", "start-end.pbf")],
            ("application/x-protobuf",),
        ),
        "/basemap/sprites/{name}": _basemap_file(
            "basemapSprite",
            "A sprite sheet of the basemap's icons (.json or .png)",
            [_name("name", "The sheet's file name")],
            ("application/json", "image/png"),
        ),
    }


_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The record id: 64 lowercase hexadecimal digits",
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
}
_DATE = {"type": "string", "format": "date"}
# The shared filter of the map and the lists (node.web.filters), with the lists' cursor.
_LIST_FILTERS = [
    *(p for p in MAP_FILTERS if p["name"] != "kind"),
    query_parameter(
        "after",
        "Where the page starts: the Next link's value (<created_ms>.<rid> of the last row shown)",
        {"type": "string", "pattern": "^[0-9]{1,18}[.][0-9]{1,18}$"},
    ),
]
_LIST_STATUSES = {
    "200": "The page: newest first, 50 rows, the count of matches and a Next link",
    "400": "A filter value, the cursor or an unknown parameter is wrong; the page names it",
}
_RECORD_STATUSES = {
    "200": "The record's page (a withdrawn record: its tombstone and the reason)",
    "400": "The id is not 64 lowercase hexadecimal digits, or an unknown parameter",
    "404": "No public record of this kind has this id (the same for a non-public one)",
}


def _bundle(operation_id: str, kind: str) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": f"One public {kind} as a signed-record bundle, for banscan verify",
        "parameters": [_LANG, _ID],
        "responses": {
            "200": {
                "description": "The bundle, as an attachment",
                "content": {
                    "application/vnd.banscan.bundle+msgpack": {
                        "schema": {"type": "string", "format": "binary"}
                    }
                },
            },
            "400": {"description": "The id is malformed (an HTML page)", "content": _HTML},
            "404": {
                "description": "No public record of this kind (an HTML page)",
                "content": _HTML,
            },
        },
    }


def site_paths() -> dict[str, Any]:
    return {
        "/": {
            "get": html_page(
                "homePage",
                "The home page: the chapter, the headline numbers, the report button, "
                "the campaign's actions and the network's chapters",
                {"200": "The page", "400": "A parameter other than lang; the page names it"},
            )
        },
        "/stats": {
            "get": html_page(
                "statsPage",
                "Figures: charts (server-drawn SVG, each with its table) of incidents per month, "
                "by category and technology, and of cameras by status and city; incident groups "
                "smaller than [site] min_incidents_per_cell are counted together",
                {"200": "The page", "400": "A filter is wrong; the page names it"},
                [p for p in MAP_FILTERS if p["name"] != "kind"],
            )
        },
        "/deployments": {
            "get": html_page(
                "deploymentsPage",
                "Public deployments, newest first, filtered and paged",
                _LIST_STATUSES,
                _LIST_FILTERS,
            )
        },
        "/incidents": {
            "get": html_page(
                "incidentsPage",
                "Public incidents, newest first, filtered and paged (places by city, "
                "region and country only)",
                _LIST_STATUSES,
                _LIST_FILTERS,
            )
        },
        "/deployments/{id}": {
            "get": html_page(
                "deploymentPage",
                "One public deployment: every field, versions, signer, and its signature check",
                _RECORD_STATUSES,
                [_ID],
            )
        },
        "/incidents/{id}": {
            "get": html_page(
                "incidentPage",
                "One public incident: every field, versions, signer, and its signature check",
                _RECORD_STATUSES,
                [_ID],
            )
        },
        "/deployments/{id}/bundle": {"get": _bundle("deploymentBundle", "deployment")},
        "/incidents/{id}/bundle": {"get": _bundle("incidentBundle", "incident")},
        **map_data_paths(),
        **map_page_paths(),
        "/privacy": {
            "get": html_page(
                "privacyPage",
                "Who runs the node and what it does with visitors' data",
                {"200": "The page"},
            )
        },
        "/static/{name}": {
            "get": {
                "operationId": "staticFile",
                "summary": "A file the pages use: stylesheet, scripts, map outlines "
                "(nothing is loaded from another origin)",
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 200},
                    },
                    query_parameter(
                        "v",
                        "The file's version; with the current one it may be cached for a year",
                        {"type": "string", "maxLength": 64},
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "The file",
                        "content": {
                            media: {"schema": {"type": "string"}}
                            for media in ("text/css", "text/javascript", "application/json")
                        },
                    },
                    "304": {"description": "The client's copy is current"},
                    "404": problem("No such file"),
                },
            }
        },
    }
