"""The paths of the records: listing, import, query, stats, export, coverage, forks."""

from typing import Any

from node.api.openapi.campaign import campaign_export_parameters
from node.api.openapi.parts import (
    BAD_REQUEST,
    BEARER,
    FORBIDDEN,
    OPTIONAL_BEARER,
    UNAUTHORIZED,
    json_answer,
    problem,
    query_parameter,
    schema_ref,
)
from node.api.openapi.patterns import (
    KEY,
    bbox,
    calendar_date,
    listed,
    listed_names,
    listed_text,
    one_of,
    opaque_cursor,
    search_text,
    time_ms,
)
from node.api.query import MAX_GROUP_KEYS
from node.exports.formats import EXPORT_KINDS, FORMATS
from node.params import (
    CATEGORIES,
    DEPLOYMENT_ONLY,
    FRT_STATUSES,
    INCIDENT_ONLY,
    KINDS,
    STATUSES,
    TECHNOLOGIES,
)
from protocol.countries import COUNTRY_CODES
from protocol.envelope import AUDIENCES
from storage.stats import GROUP_KEYS

_KIND = "[a-z][a-z0-9_]{0,31}"
# Empty items are skipped: "incident,,deployment" and "" are accepted.
_KINDS_PATTERN = f"^({_KIND})?(,({_KIND})?)*$"


def _group_by_pattern() -> str:
    """Up to MAX_GROUP_KEYS keys of GROUP_KEYS, or none (repeating one is refused)."""
    key = one_of(GROUP_KEYS)
    return f"^(({key})(,({key})){{0,{MAX_GROUP_KEYS - 1}}})?$"


def record_paths() -> dict[str, Any]:
    return {
        **_record_listing(),
        **_record_import_and_lookup(),
        **_current_record_routes(),
        **_export_route(),
        **_chapter_routes(),
    }


def _record_listing() -> dict[str, Any]:
    """Records in arrival order, with their signed bytes."""
    return {
        "/api/v1/records": {
            "get": {
                "operationId": "listRecords",
                "summary": "Records in arrival order, filtered, a page at a time",
                "security": OPTIONAL_BEARER,
                "parameters": [
                    query_parameter(
                        "kind",
                        "Comma-separated kinds",
                        {"type": "string", "pattern": _KINDS_PATTERN},
                    ),
                    query_parameter(
                        "origin",
                        "Origin key, ed25519:...",
                        {"type": "string", "pattern": f"^{KEY}$"},
                    ),
                    query_parameter(
                        "audience", "One audience", {"type": "string", "enum": list(AUDIENCES)}
                    ),
                    query_parameter(
                        "since",
                        "created_ms lower bound: milliseconds or RFC 3339",
                        time_ms(),
                    ),
                    query_parameter(
                        "limit",
                        "Page size",
                        {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                    ),
                    query_parameter("cursor", "next_cursor of the previous page", opaque_cursor()),
                ],
                "responses": {
                    "200": json_answer("A page of records", schema_ref("RecordPage")),
                    "400": BAD_REQUEST,
                    "401": UNAUTHORIZED,
                },
            },
            "post": {
                "operationId": "publishRecord",
                "summary": "Sign and publish a record as this node",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": schema_ref("NewRecord")}},
                },
                "responses": {
                    "201": json_answer("The new signed record", schema_ref("Record")),
                    "400": BAD_REQUEST,
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "413": problem("The body is over the size limit."),
                    "415": problem("Not application/json."),
                    "422": problem("The body does not satisfy its kind's schema."),
                },
            },
        },
    }


def _record_import_and_lookup() -> dict[str, Any]:
    """Importing a batch, and one record by id."""
    return {
        "/api/v1/records/import": {
            "post": {
                "operationId": "importRecords",
                "summary": "Import a batch of signed records; all or nothing",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "description": "msgpack array of [envelope, signature, body|nil].",
                    "content": {
                        "application/msgpack": {"schema": {"type": "string", "format": "binary"}}
                    },
                },
                "responses": {
                    "200": json_answer(
                        "Every record stored or already held", schema_ref("ImportSummary")
                    ),
                    "400": problem(
                        "A record or the batch is malformed or forged; nothing was stored."
                    ),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "409": problem("A seq gap; nothing was stored."),
                    "413": problem("The batch or a record is over a limit."),
                    "415": problem("Not application/msgpack."),
                    "422": problem("A body fails its kind's schema; nothing was stored."),
                },
            }
        },
        "/api/v1/records/{id}": {
            "get": {
                "operationId": "getRecord",
                "summary": "One record with its signed bytes",
                "security": OPTIONAL_BEARER,
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    }
                ],
                "responses": {
                    "200": json_answer("The record", schema_ref("Record")),
                    "400": BAD_REQUEST,
                    "401": UNAUTHORIZED,
                    "404": problem("No such record visible to this request."),
                },
            }
        },
    }


def _current_record_routes() -> dict[str, Any]:
    """Current incidents and deployments, and their stats."""
    return {
        "/api/v1/incidents": _list_operation("incident", "incidents"),
        "/api/v1/deployments": _list_operation("deployment", "deployments"),
        "/api/v1/stats": {
            "get": {
                "operationId": "stats",
                "summary": "Counts, chapters and first and last dates, grouped",
                "security": OPTIONAL_BEARER,
                "parameters": [
                    query_parameter(
                        "kind",
                        "Which records to count",
                        {"type": "string", "enum": list(KINDS), "default": "incident"},
                    ),
                    query_parameter(
                        "group_by",
                        "Comma-separated keys (at most 4): " + ", ".join(GROUP_KEYS),
                        {
                            "type": "string",
                            "pattern": _group_by_pattern(),
                        },
                    ),
                    *filter_parameters(None),
                ],
                "responses": {
                    "200": json_answer("Groups and totals", schema_ref("Stats")),
                    "400": problem("A parameter is wrong or unknown; the problem names it."),
                    "401": UNAUTHORIZED,
                },
            }
        },
    }


def _export_route() -> dict[str, Any]:
    """Current records of one kind as a file."""
    return {
        "/api/v1/export": {
            "get": {
                "operationId": "export",
                "summary": "Current incidents or deployments as a file, streamed",
                "security": OPTIONAL_BEARER,
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "required": True,
                        "description": "File format",
                        "schema": {"type": "string", "enum": list(FORMATS)},
                    },
                    {
                        "name": "kind",
                        "in": "query",
                        "required": True,
                        "description": "Which records",
                        "schema": {"type": "string", "enum": list(EXPORT_KINDS)},
                    },
                    *filter_parameters(None),
                    *campaign_export_parameters({p["name"] for p in filter_parameters(None)}),
                ],
                "responses": {
                    "200": {
                        "description": "The file; the Banscan-Audiences header names the "
                        "audiences it includes.",
                        "content": {
                            f.media_type.split(";")[0]: {
                                "schema": {"type": "object"}
                                if f.name == "geojson"
                                else {"type": "string"}
                            }
                            for f in FORMATS.values()
                        },
                    },
                    "400": problem("A parameter is wrong or unknown; the problem names it."),
                    "401": UNAUTHORIZED,
                },
            }
        },
    }


def _chapter_routes() -> dict[str, Any]:
    """What each chapter holds, and fork evidence."""
    return {
        "/api/v1/coverage": {
            "get": {
                "operationId": "coverage",
                "summary": "Every chapter known to the node: counts and feed heads",
                "security": OPTIONAL_BEARER,
                "responses": {
                    "200": json_answer("Chapters", schema_ref("Coverage")),
                    "400": problem("The route takes no parameters."),
                    "401": UNAUTHORIZED,
                },
            }
        },
        "/api/v1/forks": {
            "get": {
                "operationId": "listForks",
                "summary": "Fork evidence: origins that signed two envelopes for one slot",
                "security": BEARER,
                "responses": {
                    "200": json_answer("Fork evidence", schema_ref("ForkList")),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                },
            }
        },
    }


def filter_parameters(kind: str | None) -> list[dict[str, Any]]:
    """The filter parameters of parse_query_filter; ``kind`` None: both kinds (stats)."""
    statuses = sorted(STATUSES[kind]) if kind else sorted(set().union(*STATUSES.values()))
    parameters = [
        query_parameter(
            "country", "ISO 3166-1 alpha-2 codes, comma-separated", listed_names(COUNTRY_CODES)
        ),
        query_parameter("region", "Regions, comma-separated", listed_text()),
        query_parameter("city", "Cities, comma-separated", listed_text()),
        query_parameter(
            "origin",
            "Chapter keys (ed25519:...), comma-separated",
            listed(KEY),
        ),
        query_parameter(
            "category",
            "Incident categories, comma-separated: " + ", ".join(sorted(CATEGORIES)),
            listed_names(CATEGORIES),
        ),
        query_parameter(
            "technology",
            "Technology types, comma-separated: " + ", ".join(sorted(TECHNOLOGIES)),
            listed_names(TECHNOLOGIES),
        ),
        query_parameter(
            "agency", "Agency names (case-insensitive), comma-separated", listed_text()
        ),
        query_parameter(
            "status", "Statuses, comma-separated: " + ", ".join(statuses), listed_names(statuses)
        ),
        query_parameter("occurred_from", "occurred_on from (inclusive)", calendar_date()),
        query_parameter("occurred_to", "occurred_on to (inclusive)", calendar_date()),
        query_parameter(
            "created_from", "created_ms from (inclusive): milliseconds or RFC 3339", time_ms()
        ),
        query_parameter(
            "created_to", "created_ms to (inclusive): milliseconds or RFC 3339", time_ms()
        ),
        query_parameter(
            "area",
            "Incidents: geohash prefix of 1-6 characters",
            {"type": "string", "pattern": "^[0-9b-hjkmnp-z]{1,6}$"},
        ),
        query_parameter("bbox", "Deployments: min_lon,min_lat,max_lon,max_lat in degrees", bbox()),
        query_parameter(
            "frt",
            "Deployments: FRT capability, comma-separated: " + ", ".join(sorted(FRT_STATUSES)),
            listed_names(FRT_STATUSES),
        ),
        query_parameter("q", "Incidents: words that must all occur in the summary", search_text()),
    ]
    if kind == "incident":
        return [p for p in parameters if p["name"] not in DEPLOYMENT_ONLY]
    if kind == "deployment":
        return [p for p in parameters if p["name"] not in INCIDENT_ONLY]
    return parameters


def _list_operation(kind: str, plural: str) -> dict[str, Any]:
    return {
        "get": {
            "operationId": f"list{plural.capitalize()}",
            "summary": f"Current {plural}, filtered and sorted, a page at a time",
            "security": OPTIONAL_BEARER,
            "parameters": [
                *filter_parameters(kind),
                query_parameter(
                    "sort",
                    "created or occurred; a leading - sorts descending",
                    {
                        "type": "string",
                        "enum": ["created", "-created", "occurred", "-occurred"],
                        "default": "-created",
                    },
                ),
                query_parameter(
                    "limit",
                    "Page size",
                    {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                ),
                query_parameter(
                    "cursor", "next_cursor of the previous page (same sort)", opaque_cursor()
                ),
            ],
            "responses": {
                "200": json_answer(f"A page of {plural}", schema_ref("RecordPage")),
                "400": problem("A parameter is wrong or unknown; the problem names it."),
                "401": problem("A token this node does not know."),
            },
        }
    }
