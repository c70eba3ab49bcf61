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


_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The record id: 64 lowercase hexadecimal digits",
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
}
_TEXT = {"type": "string", "maxLength": 200}
_DATE = {"type": "string", "format": "date"}
# The shared filter of the map and the lists (node.web.filters), with the lists' cursor.
_LIST_FILTERS = [
    query_parameter("country", "ISO 3166-1 alpha-2 code(s), comma-separated", _TEXT),
    query_parameter("city", "City name(s), comma-separated", _TEXT),
    query_parameter(
        "status", "A deployment's status or an incident's verification, comma-separated", _TEXT
    ),
    query_parameter("frt", "Deployments: FRT capability (confirmed, suspected, unknown)", _TEXT),
    query_parameter("technology", "Incidents: technology type(s)", _TEXT),
    query_parameter("category", "Incidents: category(ies)", _TEXT),
    query_parameter(
        "occurred_from", "Occurred (incidents) or seen (deployments) on or after", _DATE
    ),
    query_parameter("occurred_to", "Occurred or seen on or before", _DATE),
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
