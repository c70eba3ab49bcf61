"""Reviewing one report: its private part beside the draft record, the previews, publishing.

Opening a report claims it (``POST .../claim``); when another moderator
holds it the page says who and since when, and offers to take it over
explicitly. The draft form posts back here: "Preview" re-renders the page
with the draft as edited (no JavaScript needed), ``static/desk.js`` does the
same live through ``/preview``; "Publish" sends the node the body exactly as
previewed, with the audience the moderator chose.
"""

import time
from typing import Any, Final, get_args

from aiohttp import web

from node.desk.drafts import (
    REPORTER_TEXT,
    Draft,
    check,
    draft_from_form,
    fields_from_body,
    removed_words,
)
from node.desk.likeness import LIKELY, most_alike
from node.desk.nodeapi import NodeError
from node.desk.queue import STATUS_LABELS
from node.desk.state import DESK, TEMPLATES, CannotOpen, Desk, Opened, catalog, render
from node.moderation.submissions import REJECT_REASONS, RETRACT_REASONS, SUBMISSION_ID_PATTERN
from protocol.envelope import AUDIENCES
from protocol.kinds import IncidentCategory, TechnologyType

routes = web.RouteTableDef()
ID: Final = f"{{submission_id:{SUBMISSION_ID_PATTERN}}}"
CATEGORIES: Final = get_args(IncidentCategory)
TECHNOLOGIES: Final = get_args(TechnologyType)
OPEN: Final = frozenset({"pending", "needs_info"})
# While the moderator edits, the live preview renews the claim this often, so it does
# not lapse under them ([moderation] claim_minutes is 30 by default).
RENEW_S: Final = 300
# Opening a report in one of these claims it: someone may be about to decide on it.
CLAIMED: Final = OPEN | {"published"}


async def _claim(request: web.Request, submission_id: str, *, take_over: bool) -> dict[str, Any]:
    """The claim this desk now holds, or the one another moderator holds (``held``)."""
    desk = request.app[DESK]
    try:
        answer = await desk.api.claim(submission_id, take_over=take_over)
    except NodeError as exc:
        if exc.status == 409 and "holder" in exc.body:
            return {"held": True, **exc.body}
        if exc.status in (404, 405):  # a node without claims; a missing report 404s below
            return {"held": False, "unsupported": True}
        raise
    desk.me = answer["claim"]["holder"]
    desk.claimed_at[submission_id] = time.monotonic()
    return {"held": False, **answer["claim"]}


def _form_of(posted: Any) -> tuple[dict[str, str], set[str], bool, str | None]:
    form = {name: str(value) for name, value in posted.items() if isinstance(value, str)}
    reviewed = {str(v) for v in posted.getall("reviewed", [])}
    return form, reviewed, posted.get("point_confirmed") == "yes", form.get("audience")


def review_context(
    opened: Opened, draft: Draft, *, point_confirmed: bool, audience: str | None, default: str
) -> dict[str, Any]:
    """Everything the review page and its live preview show of one draft; ``default``
    is the audience the node says this kind goes to when the moderator chose none."""
    checked = check(draft, point_confirmed=point_confirmed)
    reporter = str((opened.private or {}).get("what_happened", ""))
    published = draft.fields.get("summary", "")
    kind = opened.view["kind"]
    return {
        "kind": kind,
        "draft": draft,
        "checked": checked,
        "unreviewed": draft.unreviewed(),
        "point_confirmed": point_confirmed,
        "audience": audience if audience in AUDIENCES else default,
        "default_audience": default,
        "removed": removed_words(reporter, published) if kind == "incident" else [],
    }


async def _drafted(
    desk: Desk,
    opened: Opened,
    form: dict[str, str],
    reviewed: set[str],
    point_confirmed: bool,
    audience: str | None,
) -> dict[str, Any]:
    """What the review page and its preview show of a submitted form's draft."""
    draft = draft_from_form(opened.view, opened.private, form, reviewed)
    default = await desk.default_audience(opened.view["kind"])
    return review_context(
        opened, draft, point_confirmed=point_confirmed, audience=audience, default=default
    )


def _framed(desk: Desk, submission_id: str, context: dict[str, Any]) -> None:
    """Keep what the framed public-site preview draws (node.desk.sitepreview)."""
    desk.previewed[submission_id] = (
        context["kind"],
        context["checked"].signed,
        context["audience"],
    )


async def _page(
    request: web.Request,
    submission_id: str,
    *,
    form: dict[str, str] | None = None,
    reviewed: set[str] | None = None,
    point_confirmed: bool = False,
    audience: str | None = None,
    claim: dict[str, Any] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    desk = request.app[DESK]
    try:
        opened = await desk.open(submission_id)
    except CannotOpen:
        return render(request, "outcome.html", ok=False, detail=None, error="desk.cannot_open")
    if claim is None and opened.view["status"] in CLAIMED:
        claim = await _claim(request, submission_id, take_over=False)
    if form is None and opened.view["status"] == "published" and opened.view["record_id"]:
        # A correction starts from the record as published, all of it reviewed then.
        record = await desk.api.record(opened.view["record_id"])
        if record.get("body") is not None:
            form = fields_from_body(opened.view["kind"], record["body"])
            reviewed, point_confirmed = set(REPORTER_TEXT), True
            audience = audience or str(record["audience"])
    context = await _drafted(desk, opened, form or {}, reviewed or set(), point_confirmed, audience)
    _framed(desk, submission_id, context)
    try:
        candidates = await desk.api.candidates(
            submission_id, context["draft"].fields.get("area") or None
        )
    except NodeError:
        candidates = {"submissions": [], "records": []}
    return render(
        request,
        "review.html",
        http_status=status,
        opened=opened,
        view=opened.view,
        private=opened.private,
        claim=claim or {},
        message=message,
        categories=CATEGORIES,
        technologies=TECHNOLOGIES,
        audiences=AUDIENCES,
        reject_reasons=REJECT_REASONS,
        retract_reasons=RETRACT_REASONS,
        status_labels=STATUS_LABELS,
        decidable=opened.view["status"] in OPEN,
        duplicates=likely_duplicates(desk.opened, opened, candidates["submissions"]),
        records=candidates["records"],
        **context,
    )


def likely_duplicates(
    known: dict[str, Opened], opened: Opened, suggested: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The node's candidates among reports (from clear fields), each with how alike its
    text is when this desk has opened it, and the reports opened here whose text is
    alike though the node did not suggest them."""
    text = str((opened.private or {}).get("what_happened", ""))
    others = {
        other_id: str((o.private or {}).get("what_happened", ""))
        for other_id, o in known.items()
        if other_id != opened.view["id"] and o.private is not None
    }
    alike = dict(most_alike(text, others.items(), limit=len(others) or 1))
    found = [
        {
            "id": c["id"],
            "received_on": c["received_on"],
            "why": c["why"],
            "likeness": round(alike[c["id"]], 2) if c["id"] in alike else None,
        }
        for c in suggested
    ]
    listed = {c["id"] for c in found}
    found.extend(
        {"id": i, "received_on": known[i].view["received_on"], "why": [], "likeness": round(v, 2)}
        for i, v in alike.items()
        if v >= LIKELY and i not in listed
    )
    return sorted(found, key=lambda c: -(c["likeness"] or 0))


@routes.get(f"/r/{ID}")
async def review(request: web.Request) -> web.Response:
    return await _page(request, request.match_info["submission_id"])


@routes.post(f"/r/{ID}/claim")
async def take_over(request: web.Request) -> web.Response:
    submission_id = request.match_info["submission_id"]
    claim = await _claim(request, submission_id, take_over=True)
    return await _page(request, submission_id, claim=claim, message="desk.claim.taken")


@routes.post(f"/r/{ID}")
async def preview_page(request: web.Request) -> web.Response:
    """The page again with the draft as edited: the preview without JavaScript."""
    submission_id = request.match_info["submission_id"]
    form, reviewed, confirmed, audience = _form_of(await request.post())
    return await _page(
        request,
        submission_id,
        form=form,
        reviewed=reviewed,
        point_confirmed=confirmed,
        audience=audience,
    )


@routes.post(f"/r/{ID}/preview")
async def preview(request: web.Request) -> web.Response:
    """The live preview's parts, rendered here, for ``static/desk.js`` to put in place."""
    desk = request.app[DESK]
    submission_id = request.match_info["submission_id"]
    form, reviewed, confirmed, audience = _form_of(await request.post())
    opened = desk.opened.get(submission_id) or await desk.open(submission_id)
    renewed = desk.claimed_at.get(submission_id)
    if renewed is not None and time.monotonic() - renewed > RENEW_S:
        await _claim(request, submission_id, take_over=False)
    context = await _drafted(desk, opened, form, reviewed, confirmed, audience)
    _framed(desk, submission_id, context)
    t = catalog(request)
    parts = (
        request.app[TEMPLATES]
        .get_template("preview.html")
        .make_module({"t": t, "lang": t.lang, "view": opened.view, **context})
    )
    return web.json_response(
        {
            "signed": str(parts.signed()),  # type: ignore[attr-defined]
            "diff": str(parts.diff()),  # type: ignore[attr-defined]
            "unreviewed": context["unreviewed"],
            "problems": context["checked"].problems,
        }
    )


@routes.post(f"/r/{ID}/publish")
async def publish(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    submission_id = request.match_info["submission_id"]
    form, reviewed, confirmed, audience = _form_of(await request.post())
    opened = desk.opened.get(submission_id) or await desk.open(submission_id)
    context = await _drafted(desk, opened, form, reviewed, confirmed, audience)
    checked = context["checked"]
    if context["unreviewed"] or checked.problems or checked.signed is None:
        return await _page(
            request,
            submission_id,
            form=form,
            reviewed=reviewed,
            point_confirmed=confirmed,
            audience=audience,
            message="desk.publish.not_ready",
            status=422,
        )
    answer = await desk.api.publish(submission_id, context["audience"], checked.signed)
    return render(
        request,
        "outcome.html",
        ok=True,
        action="publish",
        done=[submission_id],
        skipped={},
        detail=None,
        record_id=answer["record_id"],
        audience=answer["audience"],
        kind=opened.view["kind"],
        http_status=201,
    )
