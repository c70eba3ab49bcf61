"""Routes of the moderators' desk (docs/api.md, "The moderators' desk").

Moderator or admin token:

    POST /api/v1/submissions/{id}/claim        claim, renew, or take over (take_over)
    POST /api/v1/submissions/{id}/release      release one's claim
    POST /api/v1/submissions/{id}/notes        a note the desk sealed to the moderator keys
    POST /api/v1/submissions/{id}/ask          a question for the reporter; needs_info
    POST /api/v1/submissions/duplicate         mark duplicates of a submission or record
    GET  /api/v1/submissions/{id}/candidates   likely duplicates, from clear fields
    GET  /api/v1/submissions/{id}/history      its audit trail, sealed items, chain check

Public, no token, limited like a report:

    POST /api/v1/submissions/answer            the reporter's answer, by receipt code

The services are :class:`node.moderation.desk.Desk` and
:mod:`node.moderation.candidates`; every change is in the audit log.
"""

from typing import Any, Final

from aiohttp import web

from node.abuse import REPORT_LIMITER, count_attempt
from node.api.bodies import read_json
from node.api.submissions import MODERATORS, actor_name
from node.auth import require_role
from node.moderation.candidates import CandidateQuery, find_candidates
from node.moderation.desk import (
    MAX_ANSWER,
    MAX_BULK,
    MAX_QUESTION,
    Desk,
    audit_entry_view,
    item_view,
)
from node.moderation.submissions import (
    SUBMISSION_ID_PATTERN,
    claim_view,
    normalize_receipt,
)
from node.params import int_param
from node.problems import BadParameter, BadRequest
from node.state import CONFIG, STORE

routes = web.RouteTableDef()
DESK = web.AppKey("desk", Desk)
_ONE: Final = f"/api/v1/submissions/{{submission_id:{SUBMISSION_ID_PATTERN}}}"
_SMALL_BODY: Final = 4096
_NOTE_BODY: Final = 96 * 1024  # a 64 KiB box in base64url, and the key ids
_BULK_BODY: Final = 64 * 1024
_RECORD_ID_LENGTH: Final = 64


def _exactly(
    payload: dict[str, Any], required: frozenset[str], optional: frozenset[str] = frozenset()
) -> None:
    """400 naming the first unknown or missing field."""
    unknown = sorted(set(payload) - required - optional)
    if unknown:
        raise BadRequest(f"unknown field: {unknown[0]}; expected {', '.join(sorted(required))}")
    missing = sorted(required - set(payload))
    if missing:
        raise BadRequest(f"missing field: {missing[0]}")


def _text(payload: dict[str, Any], name: str, longest: int) -> str:
    value = payload[name]
    if not isinstance(value, str) or not value.strip() or len(value) > longest:
        raise BadRequest(f"{name} must be text of 1 to {longest:,} characters")
    return value.strip()


@routes.post(f"{_ONE}/claim")
async def claim(request: web.Request) -> web.Response:
    info = await require_role(request, MODERATORS)
    payload = await read_json(request, _SMALL_BODY)
    _exactly(payload, frozenset(), frozenset({"take_over"}))
    take_over = payload.get("take_over", False)
    if not isinstance(take_over, bool):
        raise BadRequest("take_over must be true or false")
    outcome = await request.app[DESK].claim(
        request.match_info["submission_id"], actor_name(info), take_over=take_over
    )
    return web.json_response({"claim": claim_view(outcome.claim), "taken_from": outcome.taken_from})


@routes.post(f"{_ONE}/release")
async def release(request: web.Request) -> web.Response:
    info = await require_role(request, MODERATORS)
    _exactly(await read_json(request, _SMALL_BODY), frozenset())
    released = await request.app[DESK].release(
        request.match_info["submission_id"], actor_name(info)
    )
    return web.json_response({"released": released})


@routes.post(f"{_ONE}/notes")
async def add_note(request: web.Request) -> web.Response:
    info = await require_role(request, MODERATORS)
    payload = await read_json(request, _NOTE_BODY)
    _exactly(payload, frozenset({"sealed", "key_ids"}))
    sealed, key_ids = payload["sealed"], payload["key_ids"]
    if not isinstance(sealed, str):
        raise BadRequest("sealed must be the box as unpadded base64url text")
    if (
        not isinstance(key_ids, list)
        or not 1 <= len(key_ids) <= 64
        or not all(isinstance(k, str) and 0 < len(k) <= 64 for k in key_ids)
    ):
        raise BadRequest("key_ids must be a list of 1 to 64 moderator key ids")
    note = await request.app[DESK].add_note(
        request.match_info["submission_id"], actor_name(info), sealed, key_ids
    )
    return web.json_response({"note_id": note.id, "at_ms": note.at_ms}, status=201)


@routes.post(f"{_ONE}/ask")
async def ask(request: web.Request) -> web.Response:
    info = await require_role(request, MODERATORS)
    payload = await read_json(request, _SMALL_BODY + MAX_QUESTION * 6)
    _exactly(payload, frozenset({"question"}))
    question = _text(payload, "question", MAX_QUESTION)
    question_id = await request.app[DESK].ask(
        request.match_info["submission_id"], actor_name(info), question
    )
    return web.json_response({"status": "needs_info", "question_id": question_id})


@routes.post("/api/v1/submissions/answer")
async def answer(request: web.Request) -> web.Response:
    count_attempt(request, REPORT_LIMITER)
    payload = await read_json(request, request.app[CONFIG].submissions.max_bytes)
    _exactly(payload, frozenset({"receipt", "answer"}))
    if not isinstance(payload["receipt"], str):
        raise BadRequest("receipt must be your receipt code")
    receipt = normalize_receipt(payload["receipt"])
    if receipt is None:
        raise BadRequest(
            "a receipt code is 20 letters and digits, such as K7QM-2XPA-9HTC-WRFD-3MNB"
        )
    text = _text(payload, "answer", MAX_ANSWER)
    await request.app[DESK].answer(receipt, text)
    return web.json_response(
        {"status": "received"}, status=201, headers={"Cache-Control": "no-store"}
    )


@routes.post("/api/v1/submissions/duplicate")
async def mark_duplicates(request: web.Request) -> web.Response:
    info = await require_role(request, MODERATORS)
    payload = await read_json(request, _BULK_BODY)
    _exactly(payload, frozenset({"ids", "of"}))
    ids, of = payload["ids"], payload["of"]
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_BULK:
        raise BadRequest(f"ids must be a list of 1 to {MAX_BULK} submission ids")
    if not all(isinstance(i, str) and len(i) <= 64 for i in ids):
        raise BadRequest("each id must be a submission id such as sub_...")
    if not isinstance(of, str) or not (of.startswith("sub_") or _is_record_id(of)):
        raise BadRequest("of must be a submission id (sub_...) or a record id (64 hex digits)")
    marked, skipped = await request.app[DESK].mark_duplicates(ids, of, actor_name(info))
    return web.json_response({"marked": marked, "skipped": skipped})


def _is_record_id(text: str) -> bool:
    return len(text) == _RECORD_ID_LENGTH and all(c in "0123456789abcdef" for c in text)


@routes.get(f"{_ONE}/candidates")
async def candidates(request: web.Request) -> web.Response:
    await require_role(request, MODERATORS)
    query = request.query
    unknown = sorted(set(query) - {"days", "area", "radius_m", "limit"})
    if unknown:
        raise BadParameter(unknown[0], "not a parameter of this route")
    area = query.get("area")
    if area is not None and not (
        1 <= len(area) <= 6 and all(c in "0123456789bcdefghjkmnpqrstuvwxyz" for c in area)
    ):
        raise BadParameter("area", "must be a geohash of 1 to 6 characters")
    wanted = CandidateQuery(
        days=int_param(query, "days", default=14, low=0, high=365),
        area=area,
        radius_m=int_param(query, "radius_m", default=500, low=10, high=50_000),
        limit=int_param(query, "limit", default=20, low=1, high=100),
    )
    submission = await request.app[DESK].get(request.match_info["submission_id"])
    found = await find_candidates(request.app[STORE].db, submission, wanted)
    return web.json_response(found)


@routes.get(f"{_ONE}/history")
async def history(request: web.Request) -> web.Response:
    info = await require_role(request, MODERATORS)
    submission_id = request.match_info["submission_id"]
    entries, items, broken = await request.app[DESK].history(submission_id, actor_name(info))
    return web.json_response(
        {
            "submission": submission_id,
            "entries": [audit_entry_view(entry) for entry in entries],
            "items": [item_view(item) for item in items],
            "intact": broken is None,
            "first_broken_seq": broken,
        }
    )
