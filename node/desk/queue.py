"""The queue: reports waiting for a decision, with facets, sort, search and bulk decisions.

The node filters and counts by the clear fields (``GET /api/v1/submissions``
with its facets); a search over what reporters wrote can only happen here,
where the reports can be opened: ``q`` opens each report of the page (the node
logs each as viewed) and keeps those whose text holds every word asked.
A view is its URL: the page's "save this view" keeps the query in the
browser's own storage (``static/desk.js``), never a report's text.
"""

from typing import Any, Final

from aiohttp import web

from node.desk.nodeapi import MAX_IDS, NodeError
from node.desk.state import DESK, CannotOpen, render
from node.moderation.submissions import REJECT_REASONS
from node.web.i18n import N_

STATUSES: Final = ("pending", "needs_info", "published", "rejected", "duplicate", "retracted")
STATUS_LABELS: Final = {
    "pending": N_("desk.status.pending"),
    "needs_info": N_("desk.status.needs_info"),
    "published": N_("desk.status.published"),
    "rejected": N_("desk.status.rejected"),
    "duplicate": N_("desk.status.duplicate"),
    "retracted": N_("desk.status.retracted"),
}
FACETS: Final = ("kind", "country", "city", "category", "technology")
# The query parameters the queue passes on to the node as they are.
_PASSED: Final = (*FACETS, "received_from", "received_to", "sort", "cursor")
PAGE: Final = 100

routes = web.RouteTableDef()


def node_params(query: Any, status: str) -> list[tuple[str, str]]:
    params = [("status", status), ("limit", str(PAGE))]
    for name in _PASSED:
        params.extend((name, value) for value in query.getall(name, []) if value)
    return params


def searched_text(private: dict[str, Any] | None) -> str:
    """What the search looks in: every field of the opened private part."""
    if private is None:
        return ""
    return " ".join(
        " ".join(map(str, value)) if isinstance(value, list) else str(value)
        for value in private.values()
    ).casefold()


@routes.get("/")
async def queue(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    query = request.query
    status = query.get("status", "pending")
    if status not in STATUSES:
        status = "pending"
    answer = await desk.api.submissions(node_params(query, status))
    items: list[dict[str, Any]] = answer["submissions"]
    words = query.get("q", "").casefold().split()
    unopened = 0
    if words:
        kept = []
        for item in items:
            try:
                opened = desk.opened.get(item["id"]) or await desk.open(item["id"])
            except (CannotOpen, NodeError):
                unopened += 1
                continue
            text = searched_text(opened.private)
            if all(word in text for word in words):
                kept.append(item)
        items = kept
    chosen = {name: set(query.getall(name, [])) for name in FACETS}
    return render(
        request,
        "queue.html",
        items=items,
        status=status,
        statuses=STATUSES,
        status_labels=STATUS_LABELS,
        counts=answer.get("counts", {}),
        facets={name: answer.get("facets", {}).get(name, {}) for name in FACETS},
        chosen=chosen,
        query=query,
        next_cursor=answer.get("next_cursor"),
        unopened=unopened,
        reject_reasons=REJECT_REASONS,
        done=query.get("done"),
    )


@routes.post("/bulk")
async def bulk(request: web.Request) -> web.Response:
    """Reject, or mark as duplicates of one report or record, the reports ticked."""
    desk = request.app[DESK]
    form = await request.post()
    ids = [str(v) for v in form.getall("id", [])][:MAX_IDS]
    action = str(form.get("action", ""))
    result: dict[str, Any] = {}
    error = None
    if not ids:
        error = "desk.bulk.none"
    else:
        try:
            if action == "reject":
                reason = str(form.get("reason", "other"))
                result = await desk.api.reject(ids, reason)
                done = result.get("rejected", [])
            elif action == "duplicate":
                result = await desk.api.duplicate(ids, str(form.get("of", "")).strip())
                done = result.get("marked", [])
            else:
                raise web.HTTPBadRequest(text="unknown action")
        except NodeError as exc:
            return render(
                request, "outcome.html", ok=False, detail=exc.detail, http_status=exc.status
            )
        return render(
            request,
            "outcome.html",
            ok=True,
            action=action,
            done=done,
            skipped=result.get("skipped", {}),
            detail=None,
        )
    return render(request, "outcome.html", ok=False, detail=None, error=error, http_status=400)
