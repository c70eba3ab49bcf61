"""The decisions other than publishing, and what the desk shows of a report's past.

Reject, ask the reporter, mark as duplicate, retract, release the claim,
add a note (sealed here to every moderator key before it is sent), the
history (the audit trail, with notes and answers opened here, and the chain
check), and two reports side by side. Each posts one small form; the node's
refusal, if any, is shown as it gave it (:mod:`node.desk.app`'s middleware).
"""

from typing import Any

from aiohttp import web

from node.desk.review import ID
from node.desk.state import DESK, CannotOpen, render
from protocol.utc import utc_text

routes = web.RouteTableDef()


def _done(request: web.Request, action: str, submission_id: str, **more: Any) -> web.Response:
    return render(
        request,
        "outcome.html",
        ok=True,
        action=action,
        done=[submission_id],
        skipped={},
        detail=None,
        **more,
    )


async def _field(request: web.Request, name: str) -> str:
    return str((await request.post()).get(name, "")).strip()


def _done_unless_skipped(
    request: web.Request, action: str, submission_id: str, answer: dict[str, Any]
) -> web.Response:
    """The outcome of a bulk route asked for one report: refused (409) when the node
    skipped it, as it does one another moderator holds."""
    skipped = answer.get("skipped", {})
    if submission_id in skipped:
        return render(
            request, "outcome.html", ok=False, detail=skipped[submission_id], http_status=409
        )
    return _done(request, action, submission_id)


@routes.post(f"/r/{ID}/reject")
async def reject(request: web.Request) -> web.Response:
    submission_id = request.match_info["submission_id"]
    answer = await request.app[DESK].api.reject([submission_id], await _field(request, "reason"))
    return _done_unless_skipped(request, "reject", submission_id, answer)


@routes.post(f"/r/{ID}/ask")
async def ask(request: web.Request) -> web.Response:
    submission_id = request.match_info["submission_id"]
    await request.app[DESK].api.ask(submission_id, await _field(request, "question"))
    return _done(request, "ask", submission_id)


@routes.post(f"/r/{ID}/duplicate")
async def duplicate(request: web.Request) -> web.Response:
    submission_id = request.match_info["submission_id"]
    target = await _field(request, "of")
    answer = await request.app[DESK].api.duplicate([submission_id], target)
    return _done_unless_skipped(request, "duplicate", submission_id, answer)


@routes.post(f"/r/{ID}/retract")
async def retract(request: web.Request) -> web.Response:
    submission_id = request.match_info["submission_id"]
    await request.app[DESK].api.retract(submission_id, await _field(request, "reason"))
    return _done(request, "retract", submission_id)


@routes.post(f"/r/{ID}/release")
async def release(request: web.Request) -> web.Response:
    submission_id = request.match_info["submission_id"]
    await request.app[DESK].api.release(submission_id)
    return _done(request, "release", submission_id)


@routes.post(f"/r/{ID}/note")
async def note(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    submission_id = request.match_info["submission_id"]
    text = await _field(request, "note")
    if not text:
        return render(
            request, "outcome.html", ok=False, detail=None, error="desk.note.empty", http_status=400
        )
    sealed, key_ids = await desk.seal_note(submission_id, text)
    await desk.api.note(submission_id, sealed, key_ids)
    raise web.HTTPSeeOther(f"/r/{submission_id}/history")


def _opened_item(request: web.Request, submission_id: str, item: dict[str, Any]) -> str | None:
    """A note's or an answer's text, opened here; None when purged or not for this key."""
    if item.get("sealed") is None:
        return item.get("question")
    context = f"{submission_id}:{item['type']}"
    try:
        opened = request.app[DESK].open_box(item["sealed"], context)
    except CannotOpen:
        return None
    return str(opened.get("text", opened.get("answer", "")))


@routes.get(f"/r/{ID}/history")
async def history(request: web.Request) -> web.Response:
    submission_id = request.match_info["submission_id"]
    answer = await request.app[DESK].api.history(submission_id)
    items = [
        {**item, "at": utc_text(item["at_ms"]), "text": _opened_item(request, submission_id, item)}
        for item in answer.get("items", [])
    ]
    entries = [{**e, "at": utc_text(e["at_ms"])} for e in answer.get("entries", [])]
    return render(
        request,
        "history.html",
        submission_id=submission_id,
        entries=entries,
        items=items,
        intact=answer.get("intact"),
        first_broken=answer.get("first_broken_seq"),
    )


@routes.get(f"/r/{ID}/compare/{{other:sub_[a-z2-7]{{16}}}}")
async def compare(request: web.Request) -> web.Response:
    """Two reports side by side, to decide whether the first duplicates the second."""
    desk = request.app[DESK]
    first = await desk.open(request.match_info["submission_id"])
    second = await desk.open(request.match_info["other"])
    return render(request, "compare.html", first=first, second=second)
