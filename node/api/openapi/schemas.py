"""``components/schemas`` of the records, stats, coverage, import and node routes."""

from typing import Any

from pydantic.json_schema import models_json_schema

from node.api.openapi.parts import B64, REF, schema_ref
from node.params import KINDS
from protocol.envelope import AUDIENCES
from protocol.kinds import KIND_MODELS
from storage.classify import Outcome
from storage.stats import GROUP_KEYS

# What became of each record of an import, in the order the node reports them.
OUTCOMES = tuple(outcome.value for outcome in Outcome)


def record_schemas() -> dict[str, Any]:
    """The kinds' body schemas, then the schemas of the JSON answers, in document order."""
    _, top = models_json_schema(
        [(model, "validation") for model in KIND_MODELS.values()], ref_template=REF
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    schemas.update(_record_answer_schemas())
    schemas.update(_stats_schemas())
    schemas.update(_chapter_schemas())
    schemas.update(_import_schemas())
    schemas.update(_identity_schemas())
    schemas.update(_peer_schemas())
    return schemas


def _record_answer_schemas() -> dict[str, Any]:
    """Problems, records and pages of records."""
    return {
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
                "results": {"type": "array", "items": schema_ref("IngestResult")},
            },
        },
        "Record": _record(),
        "NewRecord": {
            "description": "A kind, an audience, and a body of that kind's schema.",
            "oneOf": [
                {
                    "type": "object",
                    "required": ["kind", "audience", "body"],
                    "additionalProperties": False,
                    "properties": {
                        "kind": {"const": kind},
                        "audience": {"type": "string", "enum": list(AUDIENCES)},
                        "body": schema_ref(model.__name__),
                    },
                }
                for kind, model in KIND_MODELS.items()
            ],
        },
        "RecordPage": {
            "type": "object",
            "required": ["records", "next_cursor", "audiences"],
            "properties": {
                "records": {"type": "array", "items": schema_ref("Record")},
                "next_cursor": {"type": ["string", "null"]},
                "audiences": {"type": "array", "items": {"type": "string"}},
            },
        },
    }


def _stats_schemas() -> dict[str, Any]:
    """Stats, grouped."""
    return {
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
                "groups": {"type": "array", "items": schema_ref("StatsGroup")},
                "total": schema_ref("StatsGroup"),
                "audiences": {"type": "array", "items": {"type": "string"}},
            },
        },
    }


def _record() -> dict[str, Any]:
    return {
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
                "oneOf": [
                    *(schema_ref(m.__name__) for m in KIND_MODELS.values()),
                    {"type": "null"},
                ],
            },
            "erased": {"type": "boolean"},
            "signed": {
                "type": "object",
                "required": ["envelope", "signature", "body"],
                "properties": {
                    "envelope": B64,
                    "signature": B64,
                    "body": {"oneOf": [B64, {"type": "null"}]},
                },
            },
        },
    }


def _chapter_schemas() -> dict[str, Any]:
    """What each chapter holds."""
    return {
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
                "chapters": {"type": "array", "items": schema_ref("ChapterCoverage")},
                "audiences": {"type": "array", "items": {"type": "string"}},
            },
        },
    }


def _import_schemas() -> dict[str, Any]:
    """What became of an import."""
    return {
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
                "results": {"type": "array", "items": schema_ref("IngestResult")},
            },
        },
    }


def _identity_schemas() -> dict[str, Any]:
    """The node's identity, health and fork evidence."""
    return {
        "NodeIdentity": {
            "type": "object",
            "required": ["key", "network_id", "stewards", "software", "version", "index"],
            "properties": {
                "key": {"type": "string"},
                "network_id": {"type": "string"},
                "stewards": {"type": "array", "items": {"type": "string"}},
                "software": {"type": "string"},
                "version": {"type": "string"},
                "index": {
                    "type": "object",
                    "description": "How far the index (queries, stats, pages, exports) has"
                    " caught up with the records acknowledged",
                    "required": ["pending", "set_aside", "logged", "indexed"],
                    "properties": {
                        name: {"type": "integer", "minimum": 0}
                        for name in ("pending", "set_aside", "logged", "indexed")
                    },
                },
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
            "properties": {"peers": {"type": "array", "items": schema_ref("Peer")}},
        },
    }


def _peer_schemas() -> dict[str, Any]:
    """One peer, as the peers route shows it."""
    return {
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
