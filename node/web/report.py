"""The public report form: server-rendered HTML that needs no JavaScript.

    GET  /report               the form (503 while the node has no moderator keys)
    POST /report               a report, form-encoded; answers a page with the receipt code
    GET  /report/status        a form for a receipt code
    POST /report/status        that report's status in words, and nothing else; with
                               ``show=receipt``, the receipt page again (its language switch);
                               a question the moderators asked, with a form for the answer
    POST /report/answer        the reporter's answer, sealed to the moderators like a report

The pages work in Tor Browser at its "Safest" setting: no script, no inline
style, nothing from another origin (:mod:`node.security` sets the policy and
checks the CSRF token). Validation, sealing and the limits are those of the
JSON API (:mod:`node.moderation.submissions`, :mod:`node.abuse`). Nothing a
person types is logged.

This module holds the routes, reads and checks what is posted and maps the
form's fields to a submission. The pages are built in :mod:`node.web.pages`,
in the language :mod:`node.web.i18n` chooses.
"""

import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Final

from aiohttp import web

from node.abuse import RECEIPT_LIMITER, REPORT_LIMITER, RateLimiter, count_attempt, read_limited
from node.connections import BodyTimeout
from node.moderation.desk import MAX_ANSWER, Desk
from node.moderation.submissions import (
    ModerationConflict,
    SubmissionIn,
    SubmissionsClosed,
    accept,
    field_errors,
    normalize_receipt,
)
from node.problems import ApiError
from node.security import (
    CSRF_FIELD,
    cross_site,
    csrf_cookie,
    csrf_token,
    csrf_valid,
    has_csrf_cookie,
    set_csrf_cookie,
)
from node.state import CONFIG, STORE
from node.web.i18n import N_, Catalog, catalog
from node.web.pages import (
    CONSENTS,
    Answering,
    FormState,
    answer_received_page,
    form_page,
    receipt_page,
    refusal_page,
    status_page,
    status_result_page,
)

routes = web.RouteTableDef()

FIELD_ORDER: Final = (
    "kind",
    "what_happened",
    "occurred_on",
    "occurred_time",
    "country",
    "city",
    "place",
    "lat",
    "lon",
    "agency",
    "technology",
    "category",
    "sources",
    "names",
    "email",
    "signal",
    "phone",
    "consent_contact",
    "consent_publish",
)
_TEXT_FIELDS: Final = tuple(
    name for name in FIELD_ORDER if name not in ("lat", "lon", "sources", *CONSENTS)
)
# The pages that refuse a request; each has ``<topic>.title`` and ``<topic>.body``.
REFUSALS: Final = ("closed", "csrf", "ratelimit", "slow", "toolarge", "unreadable")
_MAX_FIELDS: Final = 64
_STATUS_BODY_BYTES: Final = 4096


# Answers.


def _respond(
    page: str, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=page,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _with_csrf(
    request: web.Request, render: Callable[[str], str], status: int = 200
) -> web.Response:
    """A page with a form: its hidden token matches the cookie set alongside."""
    cookie = csrf_cookie(request)
    response = _respond(render(csrf_token(cookie)), status)
    set_csrf_cookie(request, response, cookie)
    return response


# From the posted form to a submission.


def submission_payload(values: Mapping[str, str]) -> dict[str, Any]:
    """The form's fields as :class:`SubmissionIn` takes them; blank ones are left out."""
    payload: dict[str, Any] = {
        name: values[name] for name in _TEXT_FIELDS if values.get(name, "").strip()
    }
    for name in CONSENTS:
        payload[name] = values.get(name) == "yes"
    if payload.get("kind") == "deployment":
        payload.pop("category", None)  # the form cannot hide it without script
    for name in ("lat", "lon"):
        text = values.get(name, "").strip()
        if text:
            payload[name] = _decimal(text)
    sources = [line.strip() for line in values.get("sources", "").splitlines() if line.strip()]
    if sources:
        payload["sources"] = sources
    return payload


def _decimal(text: str) -> float | str:
    """A number typed with a decimal point or comma; the text itself if it is not one."""
    try:
        return float(text if "." in text else text.replace(",", "."))
    except ValueError:
        return text  # SubmissionIn names the field as wrong


def wrong_fields(payload: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields to mark, in form order. A check across fields names them in its message."""
    wrong = set()
    for name, message in field_errors(dict(payload)).items():
        if name not in FIELD_ORDER:
            mentioned = (f for f in FIELD_ORDER if re.search(rf"\b{f}\b", message))
            name = next(mentioned, "form")
        wrong.add(name)
    # SubmissionIn checks across fields only once each field is right; this one is
    # common enough on a form to name at once, on the coordinate left out.
    if ("lat" in payload) != ("lon" in payload):
        wrong.add("lon" if "lat" in payload else "lat")
    return tuple(name for name in (*FIELD_ORDER, "form") if name in wrong)


class _Refused(Exception):
    """A request answered with a page that says why: ``<topic>.title`` and ``<topic>.body``."""

    def __init__(
        self, status: int, topic: str, headers: Mapping[str, str] | None = None, **values: int
    ) -> None:
        super().__init__(topic)
        assert topic in REFUSALS
        self.status = status
        self.topic = topic
        self.headers = headers or {}
        self.values = values


def _refusal(request: web.Request, t: Catalog, refused: _Refused, path: str) -> web.Response:
    page = refusal_page(request, t, refused.topic, refused.values, path)
    return _respond(page, refused.status, refused.headers)


async def _read_form(
    request: web.Request, max_bytes: int, limiter: web.AppKey[RateLimiter]
) -> dict[str, str]:
    """A posted form's fields (the first value of each), once its CSRF token and limits pass."""
    if cross_site(request) or not has_csrf_cookie(request):
        raise _Refused(403, "csrf")
    try:
        count_attempt(request, limiter)
    except ApiError as exc:
        retry_after_s = int(exc.extensions.get("retry_after_s", 3600))
        raise _Refused(
            429,
            "ratelimit",
            {"Retry-After": str(retry_after_s)},
            minutes=max(1, round(retry_after_s / 60)),
        ) from exc
    if request.content_type != "application/x-www-form-urlencoded":
        raise _Refused(415, "unreadable")
    try:
        body = await read_limited(request, max_bytes)
    except ApiError as exc:
        raise _Refused(413, "toolarge", max_kb=max_bytes // 1024) from exc
    except BodyTimeout as exc:
        # A person on a slow connection gets a page, not problem+json; the connection
        # closes after it (node/connections.py).
        raise _Refused(408, "slow", seconds=request.app[CONFIG].http.body_timeout_s) from exc
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Refused(400, "unreadable") from exc
    values: dict[str, str] = {}
    for name, value in pairs:
        values.setdefault(name, value)
    if not csrf_valid(request, values.get(CSRF_FIELD)):
        raise _Refused(403, "csrf")
    return values


@routes.get("/report")
async def report_form(request: web.Request) -> web.Response:
    t = catalog(request)
    if not await request.app[STORE].submissions.keys():
        return _refusal(request, t, _Refused(503, "closed"), "/report")
    return _with_csrf(request, lambda token: form_page(request, FormState(t, token)))


@routes.post("/report")
async def send_report(request: web.Request) -> web.Response:
    t = catalog(request)
    try:
        values = await _read_form(
            request, request.app[CONFIG].submissions.max_bytes, REPORT_LIMITER
        )
    except _Refused as refused:
        return _refusal(request, t, refused, "/report")
    t = catalog(request, values.get("lang"))
    payload = submission_payload(values)
    wrong = wrong_fields(payload)
    if wrong:
        return _with_csrf(
            request,
            lambda token: form_page(request, FormState(t, token, values, wrong)),
            422,
        )
    store = request.app[STORE]
    try:
        _, receipt = await accept(
            store.submissions, SubmissionIn.model_validate(payload), store.clock
        )
    except SubmissionsClosed:
        return _refusal(request, t, _Refused(503, "closed"), "/report")
    return _with_csrf(request, lambda token: receipt_page(request, t, receipt, token), 201)


@routes.get("/report/status")
async def status_form(request: web.Request) -> web.Response:
    t = catalog(request)
    return _with_csrf(request, lambda token: status_page(request, t, token))


@routes.post("/report/status")
async def check_status(request: web.Request) -> web.Response:
    t = catalog(request)
    try:
        values = await _read_form(request, _STATUS_BODY_BYTES, RECEIPT_LIMITER)
    except _Refused as refused:
        return _refusal(request, t, refused, "/report/status")
    t = catalog(request, values.get("lang"))
    typed = values.get("receipt", "")
    receipt = normalize_receipt(typed)
    if receipt is None:
        return _with_csrf(
            request,
            lambda token: status_page(request, t, token, typed, N_("status.bad")),
            400,
        )
    status = await request.app[STORE].submissions.status_by_receipt(receipt)
    if status is None:
        return _with_csrf(
            request,
            lambda token: status_page(request, t, token, typed, N_("status.unknown")),
            404,
        )
    if values.get("show") == "receipt":
        # The receipt page's language switch: the same page, in the language chosen.
        return _with_csrf(request, lambda token: receipt_page(request, t, receipt, token))
    found = await _desk(request).question_for(receipt)
    waiting = Answering(found[2].question) if found is not None and found[2] else None
    return _with_csrf(
        request, lambda token: status_result_page(request, t, status, receipt, token, waiting)
    )


@routes.post("/report/answer")
async def send_answer(request: web.Request) -> web.Response:
    """The reporter's answer to the moderators' question, sealed as the intake seals."""
    t = catalog(request)
    try:
        values = await _read_form(
            request, request.app[CONFIG].submissions.max_bytes, REPORT_LIMITER
        )
    except _Refused as refused:
        return _refusal(request, t, refused, "/report/status")
    t = catalog(request, values.get("lang"))
    typed = values.get("receipt", "")
    receipt = normalize_receipt(typed)
    desk = _desk(request)
    found = None if receipt is None else await desk.question_for(receipt)
    if receipt is None or found is None:
        error, status = (N_("status.bad"), 400) if receipt is None else (N_("status.unknown"), 404)
        return _with_csrf(
            request, lambda token: status_page(request, t, token, typed, error), status
        )
    _, current, question = found
    answer = values.get("answer", "").strip()
    if question is None or question.question is None:
        return _with_csrf(
            request,
            lambda token: status_result_page(request, t, current, receipt, token),
            409,
        )
    if not 0 < len(answer) <= MAX_ANSWER:
        waiting = Answering(question.question, answer[:MAX_ANSWER], N_("answer.empty"))
        return _with_csrf(
            request,
            lambda token: status_result_page(request, t, current, receipt, token, waiting),
            400,
        )
    try:
        await desk.answer(receipt, answer)
    except SubmissionsClosed:
        return _refusal(request, t, _Refused(503, "closed"), "/report/status")
    except ModerationConflict:  # answered meanwhile, or decided
        return _with_csrf(
            request,
            lambda token: status_result_page(request, t, current, receipt, token),
            409,
        )
    return _respond(answer_received_page(request, t), 201)


def _desk(request: web.Request) -> Desk:
    """The desk's service over this node's store (it holds no state of its own)."""
    store, config = request.app[STORE], request.app[CONFIG]
    return Desk(store.submissions, store.desk, config.moderation.claim_minutes)
