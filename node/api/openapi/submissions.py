"""The paths of reports from the public and their moderation: the report form's pages and
the moderators' JSON routes."""

from typing import Any

from node.api.openapi.parts import (
    BEARER,
    UNAUTHORIZED,
    json_answer,
    problem,
    query_parameter,
    schema_ref,
)
from node.api.openapi.submission_schemas import SUBMISSION_ID
from node.moderation.desk import QUEUE_FILTERS
from node.moderation.submissions import SubmissionIn
from storage.submissions import STATUSES

_HTML = {"text/html": {"schema": {"type": "string"}}}
_BAD_BODY = problem("The body is wrong; the problem names what.")
_MODERATORS_ONLY = problem("Only moderator and admin tokens may do this.")
_TOO_MANY = problem("Over the hourly limit for this client or for all; see Retry-After.")
_NOT_JSON = problem("Not application/json.")
_MODERATOR_ONLY: dict[str, Any] = {"401": UNAUTHORIZED, "403": _MODERATORS_ONLY}
_SUBMISSION_ID_PARAMETER = {
    "name": "submission_id",
    "in": "path",
    "required": True,
    "schema": SUBMISSION_ID,
}
# Cursors and audit positions: at most 18 digits, within SQLite's integers.
_CURSOR_PATTERN = "^[0-9]{1,18}$"
_MAX_AFTER = 2**62
# Why the report form refuses a post, by status.
REFUSED = {
    "400": "A malformed request, explained on the page",
    "403": "The form's CSRF token is missing or wrong, or another site sent it",
    "413": "The form is over the size accepted",
    "415": "Not a form post (application/x-www-form-urlencoded)",
    "429": "Too many reports from this client or from all; see Retry-After",
}


def submission_paths() -> dict[str, Any]:
    return {
        **_form_paths(),
        **_reporting_routes(),
        **_decision_routes(),
        **_moderator_routes(),
    }


def _form_paths() -> dict[str, Any]:
    return {
        "/report": {
            "get": _html_page(
                "reportForm",
                "The public report form (works without JavaScript)",
                {"200": "Form", "503": "The node has no moderator keys yet and takes no reports"},
            ),
            "post": form_post(
                "reportSubmit",
                "Send a report from the form; the page shows the receipt code",
                {
                    "201": "Receipt page",
                    **REFUSED,
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
            "post": form_post(
                "reportStatus",
                "The status of the report with this receipt code",
                {
                    "200": "The status, in words; with show=receipt, the receipt page again "
                    "(the receipt page's language switch)",
                    **REFUSED,
                    "400": "Not a receipt code; the form again, explained",
                    "404": "No report has this receipt code; the form again",
                },
                ["receipt", "show"],
            ),
        },
    }


def _reporting_routes() -> dict[str, Any]:
    """Sending a report, and its status by receipt."""
    return {
        "/api/v1/submissions": {
            "post": {
                "operationId": "submitReport",
                "summary": "Send a report; the private part is sealed to the moderators",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": schema_ref("SubmissionIn")}},
                },
                "responses": {
                    "201": json_answer(
                        "The receipt code; keep it", schema_ref("SubmissionReceipt")
                    ),
                    "400": _BAD_BODY,
                    "413": problem("Over [submissions] max_bytes."),
                    "415": _NOT_JSON,
                    "422": problem("A field is wrong; the detail names each one."),
                    "429": _TOO_MANY,
                    "503": problem("The node has no moderator keys yet and takes no reports."),
                },
            },
            "get": {
                "operationId": "listSubmissions",
                "summary": "Submissions, oldest first: triage fields only",
                "security": BEARER,
                "parameters": [
                    query_parameter("status", None, {"enum": list(STATUSES)}),
                    query_parameter("kind", None, {"enum": ["incident", "deployment"]}),
                    *_queue_filters(),
                    query_parameter(
                        "limit", None, {"type": "integer", "minimum": 1, "maximum": 500}
                    ),
                    query_parameter("cursor", None, {"type": "string", "pattern": _CURSOR_PATTERN}),
                ],
                "responses": {
                    "200": json_answer("A page of submissions", schema_ref("SubmissionPage")),
                    "400": problem("A parameter is wrong; the problem names it."),
                    **_MODERATOR_ONLY,
                },
            },
        },
        "/api/v1/submissions/status": {
            "post": {
                "operationId": "receiptStatus",
                "summary": "A receipt code's status, and nothing else",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": schema_ref("ReceiptQuery")}},
                },
                "responses": {
                    "200": json_answer("The status", schema_ref("ReceiptStatus")),
                    "400": _BAD_BODY,
                    "404": problem("No report has this receipt code."),
                    "413": problem("The body is too large."),
                    "415": _NOT_JSON,
                    "429": _TOO_MANY,
                },
            }
        },
    }


def _queue_filters() -> list[dict[str, Any]]:
    """The queue's facet filters (each repeatable), received day range and sort."""
    text = {"type": "string", "minLength": 1, "maxLength": 200}
    day = {"type": "string", "format": "date"}
    return [
        *(query_parameter(name, "Repeat for any of several", text) for name in QUEUE_FILTERS),
        query_parameter("received_from", None, day),
        query_parameter("received_to", None, day),
        query_parameter("sort", None, {"enum": ["oldest", "newest"]}),
    ]


def _decision_routes() -> dict[str, Any]:
    """One submission, and the moderators' decisions on it."""
    return {
        "/api/v1/submissions/{submission_id}": {
            "get": {
                "operationId": "getSubmission",
                "summary": "One submission; its private part only as ciphertext",
                "security": BEARER,
                "parameters": [_SUBMISSION_ID_PARAMETER],
                "responses": {
                    "200": json_answer("The submission", schema_ref("SubmissionView")),
                    "404": problem("No such submission."),
                    **_MODERATOR_ONLY,
                },
            }
        },
        "/api/v1/submissions/{submission_id}/publish": {
            "post": moderation_operation(
                "publishSubmission",
                "Publish a redacted, signed record of it (again: a correction)",
                "PublishRequest",
                json_answer("The record published", schema_ref("PublishResult")),
                _SUBMISSION_ID_PARAMETER,
                {
                    "409": problem("No consent to publish, or not pending or published."),
                    "422": problem("The body does not satisfy its kind's schema."),
                },
            )
        },
        "/api/v1/submissions/{submission_id}/retract": {
            "post": moderation_operation(
                "retractSubmission",
                "Retract every record published from it (corrections too)",
                "RetractRequest",
                json_answer("The retraction records", schema_ref("RetractResult")),
                _SUBMISSION_ID_PARAMETER,
                {"409": problem("It is not published."), "422": problem("Unknown reason.")},
            )
        },
        "/api/v1/submissions/reject": {
            "post": moderation_operation(
                "rejectSubmissions",
                "Reject pending submissions (bulk)",
                "RejectRequest",
                json_answer("Rejected, and skipped with why", schema_ref("RejectResult")),
                None,
                {"422": problem("Unknown reason.")},
                ok="200",
            )
        },
        "/api/v1/submissions/purge": {
            "post": moderation_operation(
                "purgeSubmissions",
                "Delete private parts decided longer ago than the retention period",
                "PurgeRequest",
                json_answer(
                    "The submissions whose private part was deleted", schema_ref("PurgeResult")
                ),
                None,
                {},
                ok="200",
            )
        },
    }


def _moderator_routes() -> dict[str, Any]:
    return {
        "/api/v1/moderators": {
            "get": {
                "operationId": "listModerators",
                "summary": "The moderator keys new reports are sealed to",
                "security": BEARER,
                "responses": {
                    "200": json_answer("Moderator keys", schema_ref("ModeratorList")),
                    **_MODERATOR_ONLY,
                },
            }
        },
        "/api/v1/audit": {
            "get": {
                "operationId": "auditLog",
                "summary": "The moderation audit log, and whether its hash chain is intact",
                "security": BEARER,
                "parameters": [
                    query_parameter(
                        "after", None, {"type": "integer", "minimum": 0, "maximum": _MAX_AFTER}
                    ),
                    query_parameter(
                        "limit", None, {"type": "integer", "minimum": 1, "maximum": 10_000}
                    ),
                ],
                "responses": {
                    "200": json_answer("Entries, oldest first", schema_ref("AuditLog")),
                    "400": problem("A parameter is wrong; the problem names it."),
                    **_MODERATOR_ONLY,
                },
            }
        },
    }


def _html_page(operation_id: str, summary: str, statuses: dict[str, str]) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "responses": {
            status: {"description": description, "content": _HTML}
            for status, description in statuses.items()
        },
    }


def form_post(
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


def moderation_operation(
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
        "security": BEARER,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema_ref(request)}},
        },
        "responses": {
            ok: answer,
            "400": _BAD_BODY,
            **_MODERATOR_ONLY,
            "413": problem("The body is too large."),
            "415": _NOT_JSON,
            **extra,
        },
    }
    if path_parameter is not None:
        operation["parameters"] = [path_parameter]
        operation["responses"]["404"] = problem("No such submission.")
    return operation
