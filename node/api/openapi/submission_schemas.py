"""``components/schemas`` of reports from the public and their moderation.

The submission schema comes from :class:`node.moderation.submissions.SubmissionIn`, the
model the node validates with.
"""

from typing import Any

from pydantic.json_schema import models_json_schema

from node.api.openapi.parts import REF, closed_object, schema_ref
from node.moderation.desk import QUEUE_FACETS
from node.moderation.submissions import (
    REJECT_REASONS,
    RETRACT_REASONS,
    SUBMISSION_ID_PATTERN,
    SubmissionIn,
)
from protocol.envelope import AUDIENCES
from storage.submissions import STATUSES

SUBMISSION_ID = {"type": "string", "pattern": f"^{SUBMISSION_ID_PATTERN}$"}
_NULLABLE_TEXT = {"type": ["string", "null"]}
_MAX_REJECT = 500
_RECEIPT = {"type": "string", "pattern": "^[A-Z2-9]{4}(-[A-Z2-9]{4}){4}$"}
RECORD_ID = {"type": "string", "pattern": "^[0-9a-f]{64}$"}


def submission_schemas() -> dict[str, Any]:
    _, top = models_json_schema([(SubmissionIn, "validation")], ref_template=REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    schemas.update(_report_schemas())
    schemas.update(_submission_views())
    schemas.update(_decision_bodies())
    schemas.update(_moderator_schemas())
    return schemas


def _report_schemas() -> dict[str, Any]:
    """A report's receipt and status."""
    return {
        "SubmissionReceipt": closed_object(
            ["receipt", "status", "note"],
            {
                "receipt": _RECEIPT,
                "status": {"const": "received"},
                "note": {"type": "string"},
            },
        ),
        "ReceiptQuery": closed_object(["receipt"], {"receipt": _RECEIPT}),
        "ReceiptStatus": closed_object(
            ["status"],
            {
                "status": {
                    "enum": ["received", "needs_info", "published", "not_published", "withdrawn"]
                },
                "question": {
                    "type": "string",
                    "description": "With needs_info: the moderators' question for the reporter.",
                },
            },
        ),
    }


def _submission_views() -> dict[str, Any]:
    """Submissions as moderators see them."""
    return {
        "SubmissionView": closed_object(
            [
                "id",
                "kind",
                "status",
                "received_on",
                "triage",
                "decided_ms",
                "record_id",
                "reason",
                "purged",
                "key_ids",
                "claim",
                "duplicate_of",
            ],
            {
                "id": SUBMISSION_ID,
                "kind": {"enum": ["incident", "deployment"]},
                "status": {"enum": list(STATUSES)},
                "received_on": {"type": "string", "format": "date"},
                "triage": {
                    "type": "object",
                    "description": "The coarse fields kept in the clear: kind, "
                    "occurred_on, country, city, agency, technology, category, consent.",
                },
                "decided_ms": {"type": ["integer", "null"]},
                "record_id": {"oneOf": [RECORD_ID, {"type": "null"}]},
                "reason": _NULLABLE_TEXT,
                "purged": {"type": "boolean"},
                "key_ids": {"type": "array", "items": {"type": "string"}},
                "claim": {"oneOf": [schema_ref("Claim"), {"type": "null"}]},
                "duplicate_of": {"oneOf": [SUBMISSION_ID, RECORD_ID, {"type": "null"}]},
                "sealed": {
                    "type": ["string", "null"],
                    "contentEncoding": "base64url",
                    "description": "The private part, sealed to the moderator keys "
                    "(docs/moderators.md); null once purged. Only in single views.",
                },
            },
        ),
        "Claim": closed_object(
            ["holder", "since_ms", "expires_ms"],
            {
                "holder": {"type": "string"},
                "since_ms": {"type": "integer"},
                "expires_ms": {"type": "integer"},
            },
        ),
        "SubmissionPage": closed_object(
            ["submissions", "next_cursor", "counts", "facets"],
            {
                "submissions": {"type": "array", "items": schema_ref("SubmissionView")},
                "next_cursor": _NULLABLE_TEXT,
                "counts": closed_object(
                    list(STATUSES), {s: {"type": "integer", "minimum": 0} for s in STATUSES}
                ),
                "facets": closed_object(
                    list(QUEUE_FACETS),
                    {
                        name: {
                            "type": "object",
                            "additionalProperties": {"type": "integer", "minimum": 1},
                        }
                        for name in QUEUE_FACETS
                    },
                ),
            },
        ),
    }


def _decision_bodies() -> dict[str, Any]:
    """The bodies of the moderators' decisions and their answers."""
    return {
        "PublishRequest": closed_object(
            ["audience", "body"],
            {
                "audience": {"enum": list(AUDIENCES)},
                "body": {
                    "type": "object",
                    "description": "The redacted record body, of the submission's kind.",
                },
            },
        ),
        "PublishResult": closed_object(
            ["record_id", "audience"],
            {"record_id": RECORD_ID, "audience": {"enum": list(AUDIENCES)}},
        ),
        "RetractRequest": closed_object(["reason"], {"reason": {"enum": list(RETRACT_REASONS)}}),
        "RetractResult": closed_object(
            ["record_ids"],
            {
                "record_ids": {
                    "type": "array",
                    "items": RECORD_ID,
                    "description": "The retractions published, one for each record "
                    "published from the submission (its corrections too), newest first.",
                }
            },
        ),
        "RejectRequest": closed_object(
            ["ids", "reason"],
            {
                "ids": {
                    "type": "array",
                    "items": SUBMISSION_ID,
                    "minItems": 1,
                    "maxItems": _MAX_REJECT,
                },
                "reason": {"enum": list(REJECT_REASONS)},
            },
        ),
        "RejectResult": closed_object(
            ["rejected", "skipped"],
            {
                "rejected": {"type": "array", "items": SUBMISSION_ID},
                "skipped": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        ),
        "PurgeRequest": closed_object(
            [], {"retention_days": {"type": "integer", "minimum": 0, "maximum": 3650}}
        ),
        "PurgeResult": closed_object(
            ["purged"], {"purged": {"type": "array", "items": SUBMISSION_ID}}
        ),
    }


def _moderator_schemas() -> dict[str, Any]:
    """Moderator keys and the audit log."""
    return {
        "ModeratorList": closed_object(
            ["moderators", "default_audience"],
            {
                "default_audience": closed_object(
                    ["deployment", "incident"],
                    {
                        "deployment": {"enum": list(AUDIENCES)},
                        "incident": {"enum": list(AUDIENCES)},
                    },
                ),
                "moderators": {
                    "type": "array",
                    "items": closed_object(
                        ["key_id", "label", "added_ms", "public"],
                        {
                            "key_id": {"type": "string"},
                            "label": {"type": "string"},
                            "added_ms": {"type": "integer"},
                            "public": {"type": "string"},
                        },
                    ),
                },
            },
        ),
        "AuditLog": closed_object(
            ["entries", "intact", "first_broken_seq"],
            {
                "entries": {
                    "type": "array",
                    "items": AUDIT_ENTRY,
                },
                "intact": {"type": "boolean"},
                "first_broken_seq": {"type": ["integer", "null"]},
            },
        ),
    }


AUDIT_ENTRY = closed_object(
    ["seq", "at_ms", "actor", "action", "submission", "record_id", "detail", "hash"],
    {
        "seq": {"type": "integer", "minimum": 1},
        "at_ms": {"type": "integer"},
        "actor": {"type": "string"},
        "action": {"type": "string"},
        "submission": _NULLABLE_TEXT,
        "record_id": {"oneOf": [RECORD_ID, {"type": "null"}]},
        "detail": {"type": "object"},
        "hash": {"type": "string", "contentEncoding": "base64url"},
    },
)
