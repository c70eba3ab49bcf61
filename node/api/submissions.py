"""Routes for reports from the public and for the moderators who review them.

Public, no token:

    POST /api/v1/submissions            a report as JSON; answers its receipt code
    POST /api/v1/submissions/status     a receipt code's status, and nothing else

Moderator or admin token:

    GET  /api/v1/submissions            triage fields, oldest first
    GET  /api/v1/submissions/{id}       the same, plus the sealed private part (ciphertext)
    POST /api/v1/submissions/{id}/publish   publish (or correct) a redacted record
    POST /api/v1/submissions/{id}/retract   retract the record published from it
    POST /api/v1/submissions/reject     reject several at once
    POST /api/v1/submissions/purge      delete private parts past retention now
    GET  /api/v1/moderators             the moderator keys reports are sealed to
    GET  /api/v1/audit                  the moderation audit log

Nothing here reads or logs the client's address beyond the rate limiter's
daily keyed hash (:mod:`node.abuse`).
"""

from collections.abc import AsyncIterator
from typing import Any, Final

from aiohttp import web

from node.abuse import RECEIPT_LIMITER, REPORT_LIMITER, count_attempt
from node.api.bodies import read_json
from node.api.queue import queue_filter
from node.auth import require_role
from node.moderation.desk import audit_entry_view
from node.moderation.retention import Retention
from node.moderation.service import Moderation
from node.moderation.submissions import (
    RECEIPT_STATUS,
    SUBMISSION_ID_PATTERN,
    accept,
    normalize_receipt,
    parse_submission,
    submission_view,
)
from node.params import int_param
from node.problems import BadParameter, BadRequest, NotFound
from node.state import CONFIG, FEDERATION, STORE, TASKS
from storage.queue import facet_counts, queue_page
from storage.tokens import Role, TokenInfo

routes = web.RouteTableDef()
MODERATION = web.AppKey("moderation", Moderation)
# Reports and receipt checks each have their own budget, so guessing at receipts
# cannot close reporting (nor the other way round).
MODERATORS: Final = frozenset({Role.MODERATOR, Role.ADMIN})
MAX_PAGE: Final = 500
_MODERATION_BODY_BYTES: Final = 256 * 1024


def actor_name(info: TokenInfo) -> str:
    """Who the audit log names for an API call: the token's label, never a person's address."""
    return f"token:{info.label}" if info.label else f"token:({info.role.value})"


@routes.post("/api/v1/submissions")
async def create_submission(request: web.Request) -> web.Response:
    count_attempt(request, REPORT_LIMITER)
    payload = await read_json(request, request.app[CONFIG].submissions.max_bytes)
    submission = parse_submission(payload)
    _, receipt = await accept(request.app[STORE].submissions, submission, _clock(request))
    return web.json_response(
        {
            "receipt": receipt,
            "status": RECEIPT_STATUS["pending"],
            "note": "Keep this code: with it you can check your report's status at "
            "/report/status. It is the only way to find your report again.",
        },
        status=201,
        headers={"Cache-Control": "no-store"},
    )


@routes.post("/api/v1/submissions/status")
async def receipt_status(request: web.Request) -> web.Response:
    count_attempt(request, RECEIPT_LIMITER)
    payload = await read_json(request, 4096)
    unknown = sorted(set(payload) - {"receipt"})
    if unknown or not isinstance(payload.get("receipt"), str):
        raise BadRequest('send {"receipt": "<your receipt code>"} and nothing else')
    receipt = normalize_receipt(payload["receipt"])
    if receipt is None:
        raise BadRequest(
            "a receipt code is 20 letters and digits, such as K7QM-2XPA-9HTC-WRFD-3MNB"
        )
    desk = request.app[STORE].desk
    found = await desk.by_receipt(receipt)
    if found is None:
        raise NotFound("no report has this receipt code")
    submission_id, status = found
    answer: dict[str, Any] = {"status": RECEIPT_STATUS[status]}
    # The moderators' question is for the holder of this receipt code, and no one else.
    question = await desk.waiting_question(submission_id)
    if question is not None and question.question is not None:
        answer["question"] = question.question
    return web.json_response(answer, headers={"Cache-Control": "no-store"})


@routes.get("/api/v1/submissions")
async def list_submissions(request: web.Request) -> web.Response:
    await require_role(request, MODERATORS)
    queue = queue_filter(request.query)
    limit = int_param(request.query, "limit", default=100, low=1, high=MAX_PAGE)
    after = int_param(request.query, "cursor", default=0, low=0, high=2**62)
    store = request.app[STORE]
    page = await queue_page(store.db, queue, after=after, limit=limit)
    claims = await store.desk.live_claims([submission.id for _, submission in page])
    items = [
        submission_view(submission, with_sealed=False, claim=claims.get(submission.id))
        for _, submission in page
    ]
    cursor = str(page[-1][0]) if len(page) == limit else None
    return web.json_response(
        {
            "submissions": items,
            "next_cursor": cursor,
            "counts": await store.submissions.counts(),
            "facets": await facet_counts(store.db, queue.status),
        }
    )


@routes.get(f"/api/v1/submissions/{{submission_id:{SUBMISSION_ID_PATTERN}}}")
async def get_submission(request: web.Request) -> web.Response:
    info = await require_role(request, MODERATORS)
    submission = await request.app[MODERATION].fetch_sealed(
        request.match_info["submission_id"], actor=actor_name(info)
    )
    claims = await request.app[STORE].desk.live_claims([submission.id])
    return web.json_response(
        submission_view(submission, with_sealed=True, claim=claims.get(submission.id))
    )


@routes.post(f"/api/v1/submissions/{{submission_id:{SUBMISSION_ID_PATTERN}}}/publish")
async def publish_submission(request: web.Request) -> web.Response:
    info = await require_role(request, MODERATORS)
    payload = await read_json(request, _MODERATION_BODY_BYTES)
    unknown = sorted(set(payload) - {"audience", "body"})
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; expected audience, body")
    for field in ("audience", "body"):
        if field not in payload:
            raise BadRequest(f"missing field: {field}")
    record = await request.app[MODERATION].publish(
        request.match_info["submission_id"],
        payload["audience"],
        payload["body"],
        actor=actor_name(info),
    )
    request.app[FEDERATION].published_own([record])
    return web.json_response(
        {"record_id": record.id.hex(), "audience": record.envelope.audience},
        status=201,
        headers={"Location": f"/api/v1/records/{record.id.hex()}"},
    )


@routes.post(f"/api/v1/submissions/{{submission_id:{SUBMISSION_ID_PATTERN}}}/retract")
async def retract_submission(request: web.Request) -> web.Response:
    info = await require_role(request, MODERATORS)
    payload = await read_json(request, 4096)
    if set(payload) != {"reason"}:
        raise BadRequest('send {"reason": ...} and nothing else')
    retractions = await request.app[MODERATION].retract(
        request.match_info["submission_id"], payload["reason"], actor=actor_name(info)
    )
    request.app[FEDERATION].published_own(retractions)
    return web.json_response({"record_ids": [r.id.hex() for r in retractions]}, status=201)


@routes.post("/api/v1/submissions/reject")
async def reject_submissions(request: web.Request) -> web.Response:
    info = await require_role(request, MODERATORS)
    payload = await read_json(request, _MODERATION_BODY_BYTES)
    if set(payload) != {"ids", "reason"}:
        raise BadRequest('send {"ids": [...], "reason": ...} and nothing else')
    ids = payload["ids"]
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_PAGE:
        raise BadRequest(f"ids must be a list of 1 to {MAX_PAGE} submission ids")
    if not all(isinstance(i, str) and len(i) <= 64 for i in ids):
        raise BadRequest("each id must be a submission id such as sub_...")
    if not isinstance(payload["reason"], str):
        raise BadRequest("reason must be a string")
    rejected, skipped = await request.app[MODERATION].reject(
        ids, payload["reason"], actor=actor_name(info)
    )
    return web.json_response({"rejected": rejected, "skipped": skipped})


@routes.post("/api/v1/submissions/purge")
async def purge_submissions(request: web.Request) -> web.Response:
    info = await require_role(request, MODERATORS)
    payload = await read_json(request, 4096)
    unknown = sorted(set(payload) - {"retention_days"})
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; expected retention_days")
    config = request.app[CONFIG].submissions
    days = payload.get("retention_days", config.retention_days)
    # JSON has one number type: 30.0 is the integer 30 (as the document's "integer" says).
    if isinstance(days, float) and days.is_integer():
        days = int(days)
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 3650:
        raise BadRequest("retention_days must be a whole number of days from 0 to 3650")
    purged = await request.app[MODERATION].purge(_clock(request)(), days, actor=actor_name(info))
    return web.json_response({"purged": purged})


@routes.get("/api/v1/moderators")
async def list_moderators(request: web.Request) -> web.Response:
    await require_role(request, MODERATORS)
    keys = await request.app[STORE].submissions.keys()
    return web.json_response(
        {
            "moderators": [
                {"key_id": k.key_id, "label": k.label, "added_ms": k.added_ms, "public": k.public}
                for k in keys
            ],
            # What the desk preselects and the CLI uses when a moderator gives no audience.
            "default_audience": {
                "deployment": "public",
                "incident": request.app[CONFIG].moderation.incident_audience,
            },
        }
    )


@routes.get("/api/v1/audit")
async def audit_log(request: web.Request) -> web.Response:
    await require_role(request, MODERATORS)
    unknown = sorted(set(request.query) - {"after", "limit"})
    if unknown:
        raise BadParameter(unknown[0], "not a parameter of this route")
    after = int_param(request.query, "after", default=0, low=0, high=2**62)
    limit = int_param(request.query, "limit", default=1000, low=1, high=10_000)
    store = request.app[STORE].submissions
    entries = await store.audit_log(after=after, limit=limit)
    broken = await store.verify_audit_log()
    return web.json_response(
        {
            "entries": [audit_entry_view(entry) for entry in entries],
            "intact": broken is None,
            "first_broken_seq": broken,
        }
    )


def _clock(request: web.Request) -> Any:
    return request.app[STORE].clock


async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
    """Enforce retention (:mod:`node.moderation.retention`) in a task of the app's owner."""
    retention = Retention(
        app[MODERATION],
        app[STORE].submissions,
        retention_days=app[CONFIG].submissions.retention_days,
        limiters=(app[REPORT_LIMITER], app[RECEIPT_LIMITER]),
        clock=app[STORE].clock,
    )
    app[TASKS].start("retention", retention.run())
    yield
