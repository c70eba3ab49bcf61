"""The OpenAPI 3.1 document for ``/api/v1`` and ``/federation/v1``, served at
``/api/v1/openapi.json``.

Body schemas come from the protocol's pydantic models, so the document and
the validation the node performs cannot drift apart.
"""

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from node.api.params import (
    CATEGORIES,
    INCIDENT_ONLY,
    KINDS,
    STATUSES,
    TECHNOLOGIES,
)
from node.exports.formats import EXPORT_KINDS, FORMATS
from protocol.envelope import AUDIENCES
from protocol.kinds import KIND_MODELS
from storage.queries import GROUP_KEYS
from storage.records import Outcome

_REF = "#/components/schemas/{model}"
# What became of each record of an import, in the order the node reports them.
OUTCOMES = tuple(outcome.value for outcome in Outcome)
_B64 = {"type": "string", "contentEncoding": "base64url"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_OPTIONAL_BEARER: list[dict[str, list[str]]] = [{}, {"bearer": []}]


def _schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(model, "validation") for model in KIND_MODELS.values()], ref_template=_REF
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    record = {
        "type": "object",
        "required": [
            "id",
            "origin",
            "audience",
            "seq",
            "created_ms",
            "kind",
            "body",
            "erased",
            "signed",
        ],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "origin": {"type": "string", "pattern": "^ed25519:[A-Za-z0-9_-]{43}$"},
            "audience": {"type": "string", "enum": list(AUDIENCES)},
            "seq": {"type": "integer", "minimum": 1},
            "created_ms": {"type": "integer", "minimum": 0},
            "kind": {"type": "string"},
            "body": {
                "description": "The decoded body; null when erased or of a kind this node "
                "does not interpret.",
                "oneOf": [*(_ref(m.__name__) for m in KIND_MODELS.values()), {"type": "null"}],
            },
            "erased": {"type": "boolean"},
            "signed": {
                "type": "object",
                "required": ["envelope", "signature", "body"],
                "properties": {
                    "envelope": _B64,
                    "signature": _B64,
                    "body": {"oneOf": [_B64, {"type": "null"}]},
                },
            },
        },
    }
    schemas.update(
        {
            "Problem": {
                "type": "object",
                "description": "RFC 9457 problem details.",
                "required": ["type", "title", "status", "detail"],
                "properties": {
                    "type": {"type": "string", "format": "uri"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "parameter": {
                        "type": "string",
                        "description": "The query parameter that was wrong (bad-parameter).",
                    },
                    **{
                        outcome: {
                            "type": "integer",
                            "description": "In a rejected import, the count of records with "
                            "this outcome (every record of a rejected batch is rejected).",
                        }
                        for outcome in OUTCOMES
                    },
                    "results": {"type": "array", "items": _ref("IngestResult")},
                },
            },
            "Record": record,
            "NewRecord": {
                "type": "object",
                "required": ["kind", "audience", "body"],
                "additionalProperties": False,
                "properties": {
                    "kind": {"type": "string", "enum": list(KIND_MODELS)},
                    "audience": {"type": "string", "enum": list(AUDIENCES)},
                    "body": {"type": "object"},
                },
            },
            "RecordPage": {
                "type": "object",
                "required": ["records", "next_cursor", "audiences"],
                "properties": {
                    "records": {"type": "array", "items": _ref("Record")},
                    "next_cursor": {"type": ["string", "null"]},
                    "audiences": {"type": "array", "items": {"type": "string"}},
                },
            },
            "StatsGroup": {
                "type": "object",
                "description": "One group: its group_by keys by name (null where records have "
                "none), the record count, distinct chapters and first and last occurred_on.",
                "required": ["count", "chapters", "first", "last"],
                "properties": {
                    **{key: {"type": ["string", "null"]} for key in GROUP_KEYS},
                    "count": {"type": "integer", "minimum": 0},
                    "chapters": {"type": "integer", "minimum": 0},
                    "first": {"type": ["string", "null"], "format": "date"},
                    "last": {"type": ["string", "null"], "format": "date"},
                },
            },
            "Stats": {
                "type": "object",
                "required": ["kind", "group_by", "groups", "total", "audiences"],
                "properties": {
                    "kind": {"type": "string", "enum": list(KINDS)},
                    "group_by": {"type": "array", "items": {"type": "string"}},
                    "groups": {"type": "array", "items": _ref("StatsGroup")},
                    "total": _ref("StatsGroup"),
                    "audiences": {"type": "array", "items": {"type": "string"}},
                },
            },
            "ChapterCoverage": {
                "type": "object",
                "required": ["origin", "name", "city", "country", "records", "feeds"],
                "properties": {
                    "origin": {"type": "string"},
                    "name": {"type": ["string", "null"]},
                    "city": {"type": ["string", "null"]},
                    "country": {"type": ["string", "null"]},
                    "records": {
                        "type": "object",
                        "description": "Current records held, by kind.",
                        "additionalProperties": {"type": "integer"},
                    },
                    "feeds": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": [
                                "audience",
                                "max_seq",
                                "latest_created_ms",
                                "advertised_seq",
                                "behind",
                            ],
                            "properties": {
                                "audience": {"type": "string"},
                                "max_seq": {"type": "integer"},
                                "latest_created_ms": {"type": ["integer", "null"]},
                                "advertised_seq": {
                                    "type": ["integer", "null"],
                                    "description": "The highest seq any peer advertised at "
                                    "its last sync session; null when no peer did.",
                                },
                                "behind": {
                                    "type": ["integer", "null"],
                                    "minimum": 0,
                                    "description": "How many records peers advertise beyond "
                                    "max_seq; null when no peer advertised the feed.",
                                },
                            },
                        },
                    },
                },
            },
            "Coverage": {
                "type": "object",
                "required": ["chapters", "audiences"],
                "properties": {
                    "chapters": {"type": "array", "items": _ref("ChapterCoverage")},
                    "audiences": {"type": "array", "items": {"type": "string"}},
                },
            },
            "IngestResult": {
                "type": "object",
                "required": ["id", "outcome"],
                "properties": {
                    "id": {"type": "string"},
                    "outcome": {
                        "type": "string",
                        "enum": list(OUTCOMES),
                    },
                    "code": {"type": "string"},
                    "detail": {"type": "string"},
                },
            },
            "ImportSummary": {
                "type": "object",
                "required": [*OUTCOMES, "results"],
                "properties": {
                    **{outcome: {"type": "integer"} for outcome in OUTCOMES},
                    "results": {"type": "array", "items": _ref("IngestResult")},
                },
            },
            # Not "NodeInfo": that name is the body schema of the "node" kind.
            "NodeIdentity": {
                "type": "object",
                "required": ["key", "network_id", "stewards", "software", "version"],
                "properties": {
                    "key": {"type": "string"},
                    "network_id": {"type": "string"},
                    "stewards": {"type": "array", "items": {"type": "string"}},
                    "software": {"type": "string"},
                    "version": {"type": "string"},
                },
            },
            "Health": {
                "type": "object",
                "required": ["status", "database"],
                "properties": {
                    "status": {"type": "string", "enum": ["ok", "failing"]},
                    "database": {"type": "string"},
                    "schema_version": {"type": "integer"},
                    "peers": {
                        "type": "object",
                        "required": ["known", "ok", "failing", "backed_off"],
                        "properties": {
                            name: {"type": "integer", "minimum": 0}
                            for name in ("known", "ok", "failing", "backed_off")
                        },
                    },
                },
            },
            "ForkList": {
                "type": "object",
                "required": ["forks"],
                "properties": {"forks": {"type": "array", "items": {"type": "object"}}},
            },
            "PeerList": {
                "type": "object",
                "required": ["peers"],
                "properties": {"peers": {"type": "array", "items": _ref("Peer")}},
            },
            "Peer": {
                "type": "object",
                "required": [
                    "key",
                    "url",
                    "source",
                    "role",
                    "last_attempt",
                    "last_success",
                    "failures",
                    "last_error",
                    "backoff_until",
                    "behind_records",
                    "behind",
                    "since_start",
                ],
                "properties": {
                    "key": {"type": "string"},
                    "url": {"type": "string"},
                    "source": {"type": "string", "enum": ["config", "cli", "discovered"]},
                    "role": {
                        "type": ["string", "null"],
                        "enum": ["steward", "coordinator", "chapter", None],
                    },
                    "last_attempt": {"type": ["string", "null"], "format": "date-time"},
                    "last_success": {"type": ["string", "null"], "format": "date-time"},
                    "failures": {"type": "integer", "minimum": 0},
                    "last_error": {"type": ["string", "null"]},
                    "backoff_until": {"type": ["string", "null"], "format": "date-time"},
                    "behind_records": {"type": "integer", "minimum": 0},
                    "behind": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["origin", "audience", "theirs", "ours"],
                            "properties": {
                                "origin": {"type": "string"},
                                "audience": {"type": "string", "enum": list(AUDIENCES)},
                                "theirs": {"type": "integer"},
                                "ours": {"type": "integer"},
                            },
                        },
                    },
                    "since_start": {"type": ["object", "null"]},
                },
            },
        }
    )
    return schemas


def _federation(operation_id: str, summary: str, *, signed: bool) -> dict[str, Any]:
    """A federation route: msgpack in and out (docs/protocol.md, Federation)."""
    responses: dict[str, Any] = {
        "200": {
            "description": "The answer, signed by the node (RFC 9421)",
            "content": {"application/msgpack": {"schema": {"type": "string"}}},
        },
        "400": _problem("The message is malformed; the detail names what is wrong."),
        "403": _problem("The audience asked for may not be sent to this caller."),
        "413": _problem("Over the batch limits."),
        "408": _problem("The body did not arrive whole within federation.timeout_s."),
        "415": _problem("The body is not application/msgpack."),
        "429": _problem("The node is serving as many peers as it can; see Retry-After."),
    }
    if signed:
        responses["401"] = _problem(
            "Unsigned, forged, stale, replayed, from the future or from another network."
        )
        responses["403"] = _problem(
            "The signing key is unknown or not a member, or the audience asked for may not "
            "be sent to it."
        )
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "security": [{"httpSignature": []}] if signed else [{}],
            "requestBody": {
                "required": True,
                "content": {"application/msgpack": {"schema": {"type": "string"}}},
            },
            "responses": responses,
        }
    }


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _filters(kind: str | None) -> list[dict[str, Any]]:
    """The filter parameters of parse_query_filter; ``kind`` None: both kinds (stats)."""
    statuses = sorted(STATUSES[kind]) if kind else sorted(set().union(*STATUSES.values()))
    parameters = [
        _query("country", "ISO 3166-1 alpha-2 codes, comma-separated", {"type": "string"}),
        _query("region", "Regions, comma-separated", {"type": "string"}),
        _query("city", "Cities, comma-separated", {"type": "string"}),
        _query("origin", "Chapter keys (ed25519:...), comma-separated", {"type": "string"}),
        _query(
            "category",
            "Incident categories, comma-separated: " + ", ".join(sorted(CATEGORIES)),
            {"type": "string"},
        ),
        _query(
            "technology",
            "Technology types, comma-separated: " + ", ".join(sorted(TECHNOLOGIES)),
            {"type": "string"},
        ),
        _query("agency", "Agency names (case-insensitive), comma-separated", {"type": "string"}),
        _query("status", "Statuses, comma-separated: " + ", ".join(statuses), {"type": "string"}),
        _query(
            "occurred_from", "occurred_on from (inclusive)", {"type": "string", "format": "date"}
        ),
        _query("occurred_to", "occurred_on to (inclusive)", {"type": "string", "format": "date"}),
        _query(
            "created_from",
            "created_ms from (inclusive): milliseconds or RFC 3339",
            {"type": "string"},
        ),
        _query(
            "created_to", "created_ms to (inclusive): milliseconds or RFC 3339", {"type": "string"}
        ),
        _query(
            "area",
            "Incidents: geohash prefix of 1-6 characters",
            {"type": "string", "pattern": "^[0-9b-hjkmnp-z]{1,6}$"},
        ),
        _query(
            "bbox", "Deployments: min_lon,min_lat,max_lon,max_lat in degrees", {"type": "string"}
        ),
        _query(
            "q",
            "Incidents: words that must all occur in the summary",
            {"type": "string", "maxLength": 500},
        ),
    ]
    if kind == "incident":
        return [p for p in parameters if p["name"] != "bbox"]
    if kind == "deployment":
        return [p for p in parameters if p["name"] not in INCIDENT_ONLY]
    return parameters


def _list_operation(kind: str, plural: str) -> dict[str, Any]:
    return {
        "get": {
            "operationId": f"list{plural.capitalize()}",
            "summary": f"Current {plural}, filtered and sorted, a page at a time",
            "security": _OPTIONAL_BEARER,
            "parameters": [
                *_filters(kind),
                _query(
                    "sort",
                    "created or occurred; a leading - sorts descending",
                    {
                        "type": "string",
                        "enum": ["created", "-created", "occurred", "-occurred"],
                        "default": "-created",
                    },
                ),
                _query(
                    "limit",
                    "Page size",
                    {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                ),
                _query(
                    "cursor", "next_cursor of the previous page (same sort)", {"type": "string"}
                ),
            ],
            "responses": {
                "200": _json(f"A page of {plural}", _ref("RecordPage")),
                "400": _problem("A parameter is wrong or unknown; the problem names it."),
                "401": _problem("A token this node does not know."),
            },
        }
    }


@cache
def openapi_document(version: str) -> dict[str, Any]:
    # Imported here: that module builds on this one's helpers.
    from node.api.openapi_submissions import submission_paths, submission_schemas

    bad_request = _problem("A parameter or the body is wrong; the problem names it.")
    unauthorized = _problem("No token, or a token this node does not know.")
    forbidden = _problem("The token's role may not do this.")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "banscan node API",
            "version": version,
            "description": "Signed incident and deployment records of the Ban the Scan network.",
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": {**_schemas(), **submission_schemas()},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "httpSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Signature",
                    "description": "RFC 9421 HTTP Message Signature by a member node's key "
                    "(see docs/protocol.md, Federation)",
                },
            },
        },
        "paths": {
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Health of the node and its database",
                    "responses": {
                        "200": _json("Healthy", _ref("Health")),
                        "503": _json("Failing", _ref("Health")),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {"200": _json("OpenAPI 3.1 document", {"type": "object"})},
                }
            },
            "/api/v1/node": {
                "get": {
                    "operationId": "getNode",
                    "summary": "The node's key, network and software version",
                    "responses": {"200": _json("Node identity", _ref("NodeIdentity"))},
                }
            },
            "/api/v1/records": {
                "get": {
                    "operationId": "listRecords",
                    "summary": "Records in arrival order, filtered, a page at a time",
                    "security": _OPTIONAL_BEARER,
                    "parameters": [
                        _query("kind", "Comma-separated kinds", {"type": "string"}),
                        _query("origin", "Origin key, ed25519:...", {"type": "string"}),
                        _query(
                            "audience", "One audience", {"type": "string", "enum": list(AUDIENCES)}
                        ),
                        _query(
                            "since",
                            "created_ms lower bound: milliseconds or RFC 3339",
                            {"type": "string"},
                        ),
                        _query(
                            "limit",
                            "Page size",
                            {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                        ),
                        _query("cursor", "next_cursor of the previous page", {"type": "string"}),
                    ],
                    "responses": {
                        "200": _json("A page of records", _ref("RecordPage")),
                        "400": bad_request,
                        "401": unauthorized,
                    },
                },
                "post": {
                    "operationId": "publishRecord",
                    "summary": "Sign and publish a record as this node",
                    "security": _BEARER,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("NewRecord")}},
                    },
                    "responses": {
                        "201": _json("The new signed record", _ref("Record")),
                        "400": bad_request,
                        "401": unauthorized,
                        "403": forbidden,
                        "413": _problem("The body is over the size limit."),
                        "415": _problem("Not application/json."),
                        "422": _problem("The body does not satisfy its kind's schema."),
                    },
                },
            },
            "/api/v1/records/import": {
                "post": {
                    "operationId": "importRecords",
                    "summary": "Import a batch of signed records; all or nothing",
                    "security": _BEARER,
                    "requestBody": {
                        "required": True,
                        "description": "msgpack array of [envelope, signature, body|nil].",
                        "content": {
                            "application/msgpack": {
                                "schema": {"type": "string", "format": "binary"}
                            }
                        },
                    },
                    "responses": {
                        "200": _json("Every record stored or already held", _ref("ImportSummary")),
                        "400": _problem(
                            "A record or the batch is malformed or forged; nothing was stored."
                        ),
                        "401": unauthorized,
                        "403": forbidden,
                        "409": _problem("A seq gap; nothing was stored."),
                        "413": _problem("The batch or a record is over a limit."),
                        "415": _problem("Not application/msgpack."),
                        "422": _problem("A body fails its kind's schema; nothing was stored."),
                    },
                }
            },
            "/api/v1/records/{id}": {
                "get": {
                    "operationId": "getRecord",
                    "summary": "One record with its signed bytes",
                    "security": _OPTIONAL_BEARER,
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        }
                    ],
                    "responses": {
                        "200": _json("The record", _ref("Record")),
                        "400": bad_request,
                        "401": unauthorized,
                        "404": _problem("No such record visible to this request."),
                    },
                }
            },
            "/api/v1/incidents": _list_operation("incident", "incidents"),
            "/api/v1/deployments": _list_operation("deployment", "deployments"),
            "/api/v1/stats": {
                "get": {
                    "operationId": "stats",
                    "summary": "Counts, chapters and first and last dates, grouped",
                    "security": _OPTIONAL_BEARER,
                    "parameters": [
                        _query(
                            "kind",
                            "Which records to count",
                            {"type": "string", "enum": list(KINDS), "default": "incident"},
                        ),
                        _query(
                            "group_by",
                            "Comma-separated keys (at most 4): " + ", ".join(GROUP_KEYS),
                            {"type": "string"},
                        ),
                        *_filters(None),
                    ],
                    "responses": {
                        "200": _json("Groups and totals", _ref("Stats")),
                        "400": _problem("A parameter is wrong or unknown; the problem names it."),
                        "401": unauthorized,
                    },
                }
            },
            "/api/v1/export": {
                "get": {
                    "operationId": "export",
                    "summary": "Current incidents or deployments as a file, streamed",
                    "security": _OPTIONAL_BEARER,
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
                        *_filters(None),
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
                        "400": _problem("A parameter is wrong or unknown; the problem names it."),
                        "401": unauthorized,
                    },
                }
            },
            "/api/v1/coverage": {
                "get": {
                    "operationId": "coverage",
                    "summary": "Every chapter known to the node: counts and feed heads",
                    "security": _OPTIONAL_BEARER,
                    "responses": {
                        "200": _json("Chapters", _ref("Coverage")),
                        "400": _problem("The route takes no parameters."),
                        "401": unauthorized,
                    },
                }
            },
            "/api/v1/forks": {
                "get": {
                    "operationId": "listForks",
                    "summary": "Fork evidence: origins that signed two envelopes for one slot",
                    "security": _BEARER,
                    "responses": {
                        "200": _json("Fork evidence", _ref("ForkList")),
                        "401": unauthorized,
                        "403": forbidden,
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics (text exposition format)",
                    "description": "Without a token, only for a direct connection from the "
                    "node's own host (loopback, not relayed by a proxy).",
                    "security": _OPTIONAL_BEARER,
                    "responses": {
                        "200": {
                            "description": "Metrics; docs/operators.md says what to watch",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": _problem(
                            "From another host (or through the proxy) without a token, or "
                            "with a token this node does not know."
                        ),
                    },
                }
            },
            "/api/v1/federation/peers": {
                "get": {
                    "operationId": "listPeers",
                    "summary": "Peers: last success, failures, backoff, and lag per feed",
                    "security": _BEARER,
                    "responses": {
                        "200": _json("Peers", _ref("PeerList")),
                        "401": unauthorized,
                    },
                }
            },
            "/federation/v1/sync": _federation(
                "federationSync", "Compare vectors (step digest, then entries)", signed=True
            ),
            "/federation/v1/records": _federation(
                "federationRecords", "Pull ranges of feeds as a batch", signed=True
            ),
            "/federation/v1/push": _federation(
                "federationPush", "Push a batch; one result per record", signed=True
            ),
            "/federation/v1/public/sync": _federation(
                "federationPublicSync", "Compare vectors of the public audience", signed=False
            ),
            "/federation/v1/public/records": _federation(
                "federationPublicRecords", "Pull ranges of public feeds", signed=False
            ),
            **submission_paths(),
        },
    }
