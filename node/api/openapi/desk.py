"""The paths and schemas of the moderators' desk: claims, notes, questions to the reporter
and their answers, duplicates and their candidates, and a submission's history
(docs/api.md, "The moderators' desk")."""

from typing import Any

from node.api.openapi.parts import (
    BEARER,
    UNAUTHORIZED,
    closed_object,
    json_answer,
    problem,
    query_parameter,
    schema_ref,
)
from node.api.openapi.submission_schemas import AUDIT_ENTRY, RECORD_ID, SUBMISSION_ID
from node.api.openapi.submissions import REFUSED, form_post, moderation_operation
from node.moderation.desk import (
    CANDIDATE_REASONS,
    MAX_ANSWER,
    MAX_BULK,
    MAX_QUESTION,
)

_BAD_BODY = problem("The body is wrong; the problem names what.")
_NOT_JSON = problem("Not application/json.")
_NOT_FOUND = problem("No such submission.")
_CLAIM_HELD = problem(
    "Another moderator holds a live claim on it; holder, since_ms and expires_ms say "
    "who and since when (problem type claim-held)."
)
_MODERATOR_ONLY: dict[str, Any] = {
    "401": UNAUTHORIZED,
    "403": problem("Only moderator and admin tokens may do this."),
}
_SUBMISSION_ID_PARAMETER = {
    "name": "submission_id",
    "in": "path",
    "required": True,
    "schema": SUBMISSION_ID,
}
_NULLABLE_INT = {"type": ["integer", "null"]}
_B64 = {"type": "string", "contentEncoding": "base64url"}
_KEY_IDS = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": 64},
    "minItems": 1,
    "maxItems": 64,
}


def desk_paths() -> dict[str, Any]:
    one = "/api/v1/submissions/{submission_id}"
    return {
        f"{one}/claim": {
            "post": _moderation(
                "claimSubmission",
                "Claim a submission, renew one's claim, or take another's over",
                "ClaimRequest",
                json_answer("The claim now held", schema_ref("ClaimResult")),
                {"409": _CLAIM_HELD},
            )
        },
        f"{one}/release": {
            "post": _moderation(
                "releaseSubmission",
                "Release one's claim on a submission",
                "ReleaseRequest",
                json_answer("Whether a claim was released", schema_ref("ReleaseResult")),
                {"409": _CLAIM_HELD},
            )
        },
        f"{one}/notes": {
            "post": _moderation(
                "addNote",
                "Add an internal note, sealed by the desk to the moderator keys",
                "NoteRequest",
                json_answer("The note stored", schema_ref("NoteResult")),
                {
                    "409": _CLAIM_HELD,
                    "422": problem(
                        "key_ids differs from the box's recipients or from the current "
                        "moderator keys; the detail names which."
                    ),
                },
                ok="201",
            )
        },
        f"{one}/ask": {
            "post": _moderation(
                "askReporter",
                "Ask the reporter for more; shown on the status page for their receipt only",
                "AskRequest",
                json_answer("The question is waiting", schema_ref("AskResult")),
                {"409": problem("Not pending or needs_info, or another holds a claim on it.")},
            )
        },
        f"{one}/candidates": {"get": _candidates()},
        f"{one}/history": {
            "get": {
                "operationId": "submissionHistory",
                "summary": "A submission's audit trail and sealed items, and the log's chain check",
                "security": BEARER,
                "parameters": [_SUBMISSION_ID_PARAMETER],
                "responses": {
                    "200": json_answer("The history", schema_ref("SubmissionHistory")),
                    "404": _NOT_FOUND,
                    **_MODERATOR_ONLY,
                },
            }
        },
        "/api/v1/submissions/duplicate": {
            "post": _moderation(
                "markDuplicates",
                "Mark submissions as duplicates of a submission or a record (bulk)",
                "DuplicateRequest",
                json_answer("Marked, and skipped with why", schema_ref("DuplicateResult")),
                {"422": problem("The target is not on this node, or is among the ids.")},
                path=False,
            )
        },
        "/report/answer": {
            "post": form_post(
                "reportAnswer",
                "The reporter's answer to the moderators' question, sealed like a report",
                {
                    "201": "The answer was received; the report is back in review",
                    **REFUSED,
                    "400": "Not a receipt code, or an empty or too long answer; explained",
                    "404": "No report has this receipt code",
                    "409": "No question waits for an answer",
                    "503": "The node has no moderator keys yet and takes no reports",
                },
                ["receipt", "answer"],
            ),
        },
        "/api/v1/submissions/answer": {
            "post": {
                "operationId": "answerQuestion",
                "summary": "The reporter's answer to the moderators' question, by receipt code",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": schema_ref("AnswerRequest")}},
                },
                "responses": {
                    "201": json_answer("Back in review", schema_ref("AnswerResult")),
                    "400": _BAD_BODY,
                    "404": problem("No report has this receipt code."),
                    "409": problem("No question waits for an answer."),
                    "413": problem("Over [submissions] max_bytes."),
                    "415": _NOT_JSON,
                    "429": problem(
                        "Over the hourly limit for this client or for all; see Retry-After."
                    ),
                    "503": problem("The node has no moderator keys and takes no reports."),
                },
            }
        },
    }


def _candidates() -> dict[str, Any]:
    return {
        "operationId": "duplicateCandidates",
        "summary": "Likely duplicates of a submission, from clear fields only",
        "security": BEARER,
        "parameters": [
            _SUBMISSION_ID_PARAMETER,
            query_parameter("days", None, {"type": "integer", "minimum": 0, "maximum": 365}),
            query_parameter("area", None, {"type": "string", "pattern": "^[0-9b-hjkmnp-z]{1,6}$"}),
            query_parameter(
                "radius_m", None, {"type": "integer", "minimum": 10, "maximum": 50_000}
            ),
            query_parameter("limit", None, {"type": "integer", "minimum": 1, "maximum": 100}),
        ],
        "responses": {
            "200": json_answer("Candidates, best first", schema_ref("DuplicateCandidates")),
            "400": problem("A parameter is wrong; the problem names it."),
            "404": _NOT_FOUND,
            **_MODERATOR_ONLY,
        },
    }


def _moderation(
    operation_id: str,
    summary: str,
    request: str,
    answer: dict[str, Any],
    extra: dict[str, Any],
    *,
    ok: str = "200",
    path: bool = True,
) -> dict[str, Any]:
    """A desk route's POST, shaped as the other moderation routes are."""
    parameter = _SUBMISSION_ID_PARAMETER if path else None
    return moderation_operation(operation_id, summary, request, answer, parameter, extra, ok=ok)


def desk_schemas() -> dict[str, Any]:
    return {
        "ClaimRequest": closed_object([], {"take_over": {"type": "boolean"}}),
        "ClaimResult": closed_object(
            ["claim", "taken_from"],
            {"claim": schema_ref("Claim"), "taken_from": {"type": ["string", "null"]}},
        ),
        "ReleaseRequest": closed_object([], {}),
        "ReleaseResult": closed_object(["released"], {"released": {"type": "boolean"}}),
        "NoteRequest": closed_object(["sealed", "key_ids"], {"sealed": _B64, "key_ids": _KEY_IDS}),
        "NoteResult": closed_object(
            ["note_id", "at_ms"], {"note_id": {"type": "integer"}, "at_ms": {"type": "integer"}}
        ),
        "AskRequest": closed_object(
            ["question"],
            {"question": {"type": "string", "minLength": 1, "maxLength": MAX_QUESTION}},
        ),
        "AskResult": closed_object(
            ["status", "question_id"],
            {"status": {"const": "needs_info"}, "question_id": {"type": "integer"}},
        ),
        "AnswerRequest": closed_object(
            ["receipt", "answer"],
            {
                "receipt": {"type": "string", "maxLength": 64},
                "answer": {"type": "string", "minLength": 1, "maxLength": MAX_ANSWER},
            },
        ),
        "AnswerResult": closed_object(["status"], {"status": {"const": "received"}}),
        "DuplicateRequest": closed_object(
            ["ids", "of"],
            {
                "ids": {
                    "type": "array",
                    "items": SUBMISSION_ID,
                    "minItems": 1,
                    "maxItems": MAX_BULK,
                },
                "of": {"oneOf": [SUBMISSION_ID, RECORD_ID]},
            },
        ),
        "DuplicateResult": closed_object(
            ["marked", "skipped"],
            {
                "marked": {"type": "array", "items": SUBMISSION_ID},
                "skipped": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        ),
        "DuplicateCandidates": _candidate_lists(),
        "SubmissionHistory": _history(),
    }


def _candidate_lists() -> dict[str, Any]:
    why = {"type": "array", "items": {"enum": list(CANDIDATE_REASONS)}}
    text = {"type": ["string", "null"]}
    number = {"type": ["number", "null"]}
    return closed_object(
        ["submissions", "records"],
        {
            "submissions": {
                "type": "array",
                "items": closed_object(
                    ["id", "status", "received_on", "triage", "score", "why"],
                    {
                        "id": SUBMISSION_ID,
                        "status": {"enum": ["pending", "needs_info"]},
                        "received_on": {"type": "string", "format": "date"},
                        "triage": {"type": "object"},
                        "score": {"type": "number"},
                        "why": why,
                    },
                ),
            },
            "records": {
                "type": "array",
                "items": closed_object(
                    [
                        "record_id",
                        "kind",
                        "audience",
                        "occurred_on",
                        "country",
                        "city",
                        "category",
                        "technology",
                        "agency",
                        "area",
                        "lat",
                        "lon",
                        "score",
                        "why",
                    ],
                    {
                        "record_id": RECORD_ID,
                        "kind": {"enum": ["incident", "deployment"]},
                        "audience": {"type": "string"},
                        "occurred_on": text,
                        "country": text,
                        "city": text,
                        "category": text,
                        "technology": text,
                        "agency": text,
                        "area": text,
                        "lat": number,
                        "lon": number,
                        "score": {"type": "number"},
                        "why": why,
                    },
                ),
            },
        },
    )


def _history() -> dict[str, Any]:
    item = closed_object(
        ["id", "type", "at_ms", "actor", "sealed", "key_ids", "question", "question_id"],
        {
            "id": {"type": "integer"},
            "type": {"enum": ["note", "question", "answer"]},
            "at_ms": {"type": "integer"},
            "actor": {"type": "string"},
            "sealed": {"type": ["string", "null"], "contentEncoding": "base64url"},
            "key_ids": {"type": "array", "items": {"type": "string"}},
            "question": {"type": ["string", "null"]},
            "question_id": _NULLABLE_INT,
        },
    )
    return closed_object(
        ["submission", "entries", "items", "intact", "first_broken_seq"],
        {
            "submission": SUBMISSION_ID,
            "entries": {"type": "array", "items": AUDIT_ENTRY},
            "items": {"type": "array", "items": item},
            "intact": {"type": "boolean"},
            "first_broken_seq": _NULLABLE_INT,
        },
    )
