"""The OpenAPI paths and schemas of reports from the public and their moderation.

:func:`node.api.openapi.openapi_document` merges them into the served document.

The submission schema comes from :class:`node.moderation.submissions.SubmissionIn`, the
model the node validates with.
"""

from typing import Any

from pydantic.json_schema import models_json_schema

from node.api.openapi import _json, _problem, _ref
from node.moderation.submissions import (
    REJECT_REASONS,
    RETRACT_REASONS,
    SUBMISSION_ID_PATTERN,
    SubmissionIn,
)
from protocol.envelope import AUDIENCES
from storage.submissions import STATUSES

_REF = "#/components/schemas/{model}"
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_ID = {"type": "string", "pattern": f"^{SUBMISSION_ID_PATTERN}$"}
_RECORD_ID = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_HTML = {"text/html": {"schema": {"type": "string"}}}


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


def submission_schemas() -> dict[str, Any]:
    _, top = models_json_schema([(SubmissionIn, "validation")], ref_template=_REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    nullable_text = {"type": ["string", "null"]}
    schemas.update(
        {
            "SubmissionReceipt": _object(
                ["receipt", "status", "note"],
                {
                    "receipt": {"type": "string", "pattern": "^[A-Z2-9]{4}(-[A-Z2-9]{4}){4}$"},
                    "status": {"const": "received"},
                    "note": {"type": "string"},
                },
            ),
            "ReceiptQuery": _object(["receipt"], {"receipt": {"type": "string"}}),
            "ReceiptStatus": _object(
                ["status"],
                {"status": {"enum": ["received", "published", "not_published", "withdrawn"]}},
            ),
            "SubmissionView": _object(
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
                ],
                {
                    "id": _ID,
                    "kind": {"enum": ["incident", "deployment"]},
                    "status": {"enum": list(STATUSES)},
                    "received_on": {"type": "string", "format": "date"},
                    "triage": {
                        "type": "object",
                        "description": "The coarse fields kept in the clear: kind, "
                        "occurred_on, country, city, agency, technology, category, consent.",
                    },
                    "decided_ms": {"type": ["integer", "null"]},
                    "record_id": {"oneOf": [_RECORD_ID, {"type": "null"}]},
                    "reason": nullable_text,
                    "purged": {"type": "boolean"},
                    "key_ids": {"type": "array", "items": {"type": "string"}},
                    "sealed": {
                        "type": ["string", "null"],
                        "contentEncoding": "base64url",
                        "description": "The private part, sealed to the moderator keys "
                        "(docs/moderators.md); null once purged. Only in single views.",
                    },
                },
            ),
            "SubmissionPage": _object(
                ["submissions", "next_cursor", "counts"],
                {
                    "submissions": {"type": "array", "items": _ref("SubmissionView")},
                    "next_cursor": nullable_text,
                    "counts": {
                        "type": "object",
                        "additionalProperties": {"type": "integer", "minimum": 0},
                    },
                },
            ),
            "PublishRequest": _object(
                ["audience", "body"],
                {
                    "audience": {"enum": list(AUDIENCES)},
                    "body": {
                        "type": "object",
                        "description": "The redacted record body, of the submission's kind.",
                    },
                },
            ),
            "PublishResult": _object(
                ["record_id", "audience"],
                {"record_id": _RECORD_ID, "audience": {"enum": list(AUDIENCES)}},
            ),
            "RetractRequest": _object(["reason"], {"reason": {"enum": list(RETRACT_REASONS)}}),
            "RetractResult": _object(
                ["record_ids"],
                {
                    "record_ids": {
                        "type": "array",
                        "items": _RECORD_ID,
                        "description": "The retractions published, one for each record "
                        "published from the submission (its corrections too), newest first.",
                    }
                },
            ),
            "RejectRequest": _object(
                ["ids", "reason"],
                {
                    "ids": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "reason": {"enum": list(REJECT_REASONS)},
                },
            ),
            "RejectResult": _object(
                ["rejected", "skipped"],
                {
                    "rejected": {"type": "array", "items": _ID},
                    "skipped": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            ),
            "PurgeRequest": _object(
                [], {"retention_days": {"type": "integer", "minimum": 0, "maximum": 3650}}
            ),
            "PurgeResult": _object(["purged"], {"purged": {"type": "array", "items": _ID}}),
            "ModeratorList": _object(
                ["moderators"],
                {
                    "moderators": {
                        "type": "array",
                        "items": _object(
                            ["key_id", "label", "added_ms", "public"],
                            {
                                "key_id": {"type": "string"},
                                "label": {"type": "string"},
                                "added_ms": {"type": "integer"},
                                "public": {"type": "string"},
                            },
                        ),
                    }
                },
            ),
            "AuditLog": _object(
                ["entries", "intact", "first_broken_seq"],
                {
                    "entries": {
                        "type": "array",
                        "items": _object(
                            [
                                "seq",
                                "at_ms",
                                "actor",
                                "action",
                                "submission",
                                "record_id",
                                "detail",
                                "hash",
                            ],
                            {
                                "seq": {"type": "integer", "minimum": 1},
                                "at_ms": {"type": "integer"},
                                "actor": {"type": "string"},
                                "action": {"type": "string"},
                                "submission": nullable_text,
                                "record_id": {"oneOf": [_RECORD_ID, {"type": "null"}]},
                                "detail": {"type": "object"},
                                "hash": {"type": "string", "contentEncoding": "base64url"},
                            },
                        ),
                    },
                    "intact": {"type": "boolean"},
                    "first_broken_seq": {"type": ["integer", "null"]},
                },
            ),
        }
    )
    return schemas


def _html_page(operation_id: str, summary: str, statuses: dict[str, str]) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "responses": {
            status: {"description": description, "content": _HTML}
            for status, description in statuses.items()
        },
    }


def _form_post(
    operation_id: str, summary: str, statuses: dict[str, str], fields: list[str]
) -> dict[str, Any]:
    """A form post: the CSRF token of the form page, the language, and the form's fields."""
    operation = _html_page(operation_id, summary, statuses)
    text = {"type": "string", "maxLength": 10_000}
    schema = {
        "type": "object",
        "required": ["csrf"],
        "properties": {name: text for name in ["csrf", "lang", *fields]},
        "additionalProperties": False,
    }
    operation["requestBody"] = {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": schema}},
    }
    return operation


def submission_paths() -> dict[str, Any]:
    bad_request = _problem("The body is wrong; the problem names what.")
    unauthorized = _problem("No token, or a token this node does not know.")
    forbidden = _problem("Only moderator and admin tokens may do this.")
    too_many = _problem("Over the hourly limit for this client or for all; see Retry-After.")
    not_json = _problem("Not application/json.")
    moderator_only: dict[str, Any] = {"401": unauthorized, "403": forbidden}
    submission_id = {
        "name": "submission_id",
        "in": "path",
        "required": True,
        "schema": _ID,
    }
    refused = {
        "400": "A malformed request, explained on the page",
        "403": "The form's CSRF token is missing or wrong, or another site sent it",
        "413": "The form is over the size accepted",
        "415": "Not a form post (application/x-www-form-urlencoded)",
        "429": "Too many reports from this client or from all; see Retry-After",
    }
    return {
        "/report": {
            "get": _html_page(
                "reportForm",
                "The public report form (works without JavaScript)",
                {"200": "Form", "503": "The node has no moderator keys yet and takes no reports"},
            ),
            "post": _form_post(
                "reportSubmit",
                "Send a report from the form; the page shows the receipt code",
                {
                    "201": "Receipt page",
                    **refused,
                    "422": "The form again, each wrong field explained",
                    "503": "The node has no moderator keys yet and takes no reports",
                },
                list(SubmissionIn.model_fields),
            ),
        },
        "/report/status": {
            "get": _html_page(
                "reportStatusForm", "A form to check a report's status", {"200": "Form"}
            ),
            "post": _form_post(
                "reportStatus",
                "The status of the report with this receipt code",
                {
                    "200": "The status, in words",
                    **refused,
                    "400": "Not a receipt code; the form again, explained",
                    "404": "No report has this receipt code; the form again",
                },
                ["receipt"],
            ),
        },
        "/static/report.css": {
            "get": {
                "operationId": "reportStylesheet",
                "summary": "The form's stylesheet (no asset comes from another origin)",
                "responses": {
                    "200": {
                        "description": "CSS",
                        "content": {"text/css": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/api/v1/submissions": {
            "post": {
                "operationId": "submitReport",
                "summary": "Send a report; the private part is sealed to the moderators",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("SubmissionIn")}},
                },
                "responses": {
                    "201": _json("The receipt code; keep it", _ref("SubmissionReceipt")),
                    "400": bad_request,
                    "413": _problem("Over [submissions] max_bytes."),
                    "415": not_json,
                    "422": _problem("A field is wrong; the detail names each one."),
                    "429": too_many,
                    "503": _problem("The node has no moderator keys yet and takes no reports."),
                },
            },
            "get": {
                "operationId": "listSubmissions",
                "summary": "Submissions, oldest first: triage fields only",
                "security": _BEARER,
                "parameters": [
                    _query("status", {"enum": list(STATUSES)}),
                    _query("kind", {"enum": ["incident", "deployment"]}),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
                    _query("cursor", {"type": "string"}),
                ],
                "responses": {
                    "200": _json("A page of submissions", _ref("SubmissionPage")),
                    "400": _problem("A parameter is wrong; the problem names it."),
                    **moderator_only,
                },
            },
        },
        "/api/v1/submissions/status": {
            "post": {
                "operationId": "receiptStatus",
                "summary": "A receipt code's status, and nothing else",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ReceiptQuery")}},
                },
                "responses": {
                    "200": _json("The status", _ref("ReceiptStatus")),
                    "400": bad_request,
                    "404": _problem("No report has this receipt code."),
                    "413": _problem("The body is too large."),
                    "415": not_json,
                    "429": too_many,
                },
            }
        },
        "/api/v1/submissions/{submission_id}": {
            "get": {
                "operationId": "getSubmission",
                "summary": "One submission; its private part only as ciphertext",
                "security": _BEARER,
                "parameters": [submission_id],
                "responses": {
                    "200": _json("The submission", _ref("SubmissionView")),
                    "404": _problem("No such submission."),
                    **moderator_only,
                },
            }
        },
        "/api/v1/submissions/{submission_id}/publish": {
            "post": _moderation(
                "publishSubmission",
                "Publish a redacted, signed record of it (again: a correction)",
                "PublishRequest",
                _json("The record published", _ref("PublishResult")),
                submission_id,
                {
                    "409": _problem("No consent to publish, or not pending or published."),
                    "422": _problem("The body does not satisfy its kind's schema."),
                },
            )
        },
        "/api/v1/submissions/{submission_id}/retract": {
            "post": _moderation(
                "retractSubmission",
                "Retract every record published from it (corrections too)",
                "RetractRequest",
                _json("The retraction records", _ref("RetractResult")),
                submission_id,
                {"409": _problem("It is not published."), "422": _problem("Unknown reason.")},
            )
        },
        "/api/v1/submissions/reject": {
            "post": _moderation(
                "rejectSubmissions",
                "Reject pending submissions (bulk)",
                "RejectRequest",
                _json("Rejected, and skipped with why", _ref("RejectResult")),
                None,
                {"422": _problem("Unknown reason.")},
                ok="200",
            )
        },
        "/api/v1/submissions/purge": {
            "post": _moderation(
                "purgeSubmissions",
                "Delete private parts decided longer ago than the retention period",
                "PurgeRequest",
                _json("The submissions whose private part was deleted", _ref("PurgeResult")),
                None,
                {},
                ok="200",
            )
        },
        "/api/v1/moderators": {
            "get": {
                "operationId": "listModerators",
                "summary": "The moderator keys new reports are sealed to",
                "security": _BEARER,
                "responses": {
                    "200": _json("Moderator keys", _ref("ModeratorList")),
                    **moderator_only,
                },
            }
        },
        "/api/v1/audit": {
            "get": {
                "operationId": "auditLog",
                "summary": "The moderation audit log, and whether its hash chain is intact",
                "security": _BEARER,
                "parameters": [
                    _query("after", {"type": "integer", "minimum": 0}),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 10_000}),
                ],
                "responses": {
                    "200": _json("Entries, oldest first", _ref("AuditLog")),
                    "400": _problem("A parameter is wrong; the problem names it."),
                    **moderator_only,
                },
            }
        },
    }


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _moderation(
    operation_id: str,
    summary: str,
    request: str,
    answer: dict[str, Any],
    path_parameter: dict[str, Any] | None,
    extra: dict[str, Any],
    *,
    ok: str = "201",
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "security": _BEARER,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref(request)}},
        },
        "responses": {
            ok: answer,
            "400": _problem("The body is wrong; the problem names what."),
            "401": _problem("No token, or a token this node does not know."),
            "403": _problem("Only moderator and admin tokens may do this."),
            "413": _problem("The body is too large."),
            "415": _problem("Not application/json."),
            **extra,
        },
    }
    if path_parameter is not None:
        operation["parameters"] = [path_parameter]
        operation["responses"]["404"] = _problem("No such submission.")
    return operation
