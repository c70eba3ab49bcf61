"""The OpenAPI 3.1 document for ``/api/v1``, served at ``/api/v1/openapi.json``.

Body schemas come from the protocol's pydantic models, so the document and
the validation the node performs cannot drift apart.
"""

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from protocol.envelope import AUDIENCES
from protocol.kinds import KIND_MODELS

_REF = "#/components/schemas/{model}"
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
                        for outcome in ("accepted", "duplicate", "fork", "rejected")
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
            "IngestResult": {
                "type": "object",
                "required": ["id", "outcome"],
                "properties": {
                    "id": {"type": "string"},
                    "outcome": {
                        "type": "string",
                        "enum": ["accepted", "duplicate", "fork", "rejected"],
                    },
                    "code": {"type": "string"},
                    "detail": {"type": "string"},
                },
            },
            "ImportSummary": {
                "type": "object",
                "required": ["accepted", "duplicate", "fork", "rejected", "results"],
                "properties": {
                    "accepted": {"type": "integer"},
                    "duplicate": {"type": "integer"},
                    "fork": {"type": "integer"},
                    "rejected": {"type": "integer"},
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
                },
            },
            "ForkList": {
                "type": "object",
                "required": ["forks"],
                "properties": {"forks": {"type": "array", "items": {"type": "object"}}},
            },
        }
    )
    return schemas


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


@cache
def openapi_document(version: str) -> dict[str, Any]:
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
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
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
        },
    }
