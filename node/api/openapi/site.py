"""The public site's paths: HTML pages, the files they use, and the map's data.

Pages answer ``text/html`` in the visitor's language (``lang``, else
Accept-Language); an error on a page is a page too, never problem+json.
"""

from typing import Any

from node.api.openapi.parts import BAD_REQUEST, problem, query_parameter
from node.api.openapi.patterns import bbox
from node.api.openapi.records import filter_parameters

# The site's filter parameters and their length limit (node.web.filters).
PAGE_FILTERS = (
    "country",
    "city",
    "status",
    "frt",
    "technology",
    "category",
    "occurred_from",
    "occurred_to",
)
MAX_FILTER_TEXT = 200
MAX_ZOOM = 18  # node.web.tiles.MAX_ZOOM

_HTML = {"text/html": {"schema": {"type": "string"}}}
_LANG = query_parameter(
    "lang", "The page's language (else Accept-Language, else English)", {"enum": ["en", "es"]}
)


def html_page(
    operation_id: str,
    summary: str,
    statuses: dict[str, str],
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A page's GET: its statuses, each an HTML page."""
    return {
        "operationId": operation_id,
        "summary": summary,
        "parameters": [_LANG, *(parameters or [])],
        "responses": {
            status: {"description": description, "content": _HTML}
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
                    *_map_filters(),
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
                    *_map_filters(),
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


def site_paths() -> dict[str, Any]:
    return {
        **map_data_paths(),
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
