"""The public site's paths: HTML pages, the files they use, and the map's data.

Pages answer ``text/html`` in the visitor's language (``lang``, else
Accept-Language); an error on a page is a page too, never problem+json.
"""

from typing import Any

from node.api.openapi.parts import problem, query_parameter

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


# The filters of the map, the lists and the figures (node/web/filters.py): the API's names.
PAGE_FILTERS = [
    query_parameter("country", "Only this country (ISO 3166-1 alpha-2)", {"type": "string"}),
    query_parameter("city", "Only this city", {"type": "string", "maxLength": 200}),
    query_parameter(
        "status",
        "Only this status: a camera's (reported ... removed) or an incident's "
        "verification (unverified ... verified); each kind keeps the values it knows",
        {"type": "string"},
    ),
    query_parameter(
        "frt",
        "Only cameras with this facial-recognition capability (not applied to incidents)",
        {"enum": ["confirmed", "suspected", "unknown"]},
    ),
    query_parameter(
        "technology",
        "Only incidents with this technology (not applied to cameras)",
        {"type": "string"},
    ),
    query_parameter(
        "category", "Only incidents of this category (not applied to cameras)", {"type": "string"}
    ),
    query_parameter(
        "occurred_from", "From this day (YYYY-MM-DD)", {"type": "string", "format": "date"}
    ),
    query_parameter(
        "occurred_to", "Up to this day (YYYY-MM-DD)", {"type": "string", "format": "date"}
    ),
]


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
                PAGE_FILTERS,
            )
        },
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
