"""The lists of public deployments and incidents, newest first, filtered and paged.

    GET /deployments    cameras and other deployments: place, status, FRT capability
    GET /incidents      incidents: what happened, when, where (city, region, country)

Both take the shared filter (:mod:`node.web.filters`, ``filters.html``) and
``after``, the keyset cursor of the next page (``<created_ms>.<rid>`` of the
page's last row, as :meth:`storage.queries.RecordQueries.page` continues), so
paging never skips or repeats a record when new ones arrive. The order is the
time a record was signed, newest first: an index walk
(``records_current_created``) at any size. Each row links to the record's page.

An incident's row names its place only by city, region and country, never by
its area cell: a list must not locate a report more finely than the map,
which shows a cell only when it holds at least ``min_incidents_per_cell``.
"""

from dataclasses import dataclass
from typing import Final

from aiohttp import web

from node.problems import BadParameter
from node.state import STORE
from node.web.filters import PageFilter, form_fields, page_filter, value_label
from node.web.i18n import N_, Catalog, countries
from node.web.recordview import KIND_PATHS, utc_time
from node.web.site import html, public_page, render
from protocol.kinds import Deployment, Incident, decode_body
from storage.filters import QueryKind
from storage.queries import CursorKey, QueryRow

routes = web.RouteTableDef()

PAGE_SIZE: Final = 50
SUMMARY_CHARS: Final = 240
TITLES: Final = {"deployment": N_("list.title.deployment"), "incident": N_("list.title.incident")}
# "1 camera matches" / "1,234 cameras match": (one, other) message ids per kind.
COUNTS: Final = {
    "deployment": (N_("list.count.deployment.one"), N_("list.count.deployment.other")),
    "incident": (N_("list.count.incident.one"), N_("list.count.incident.other")),
}


def list_message_ids() -> list[str]:
    """The message ids the list template builds from the kind (for babel)."""
    parts = ("intro", "empty", "empty_filtered", "report")
    return [f"list.{part}.{kind}" for part in parts for kind in KIND_PATHS]


@dataclass(frozen=True)
class ListRow:
    """One row of a list: the record's id and page, and its body."""

    id: str
    path: str
    created_ms: int
    deployment: Deployment | None
    incident: Incident | None
    summary: str | None  # an incident summary's opening, cut at a word


def parse_after(text: str | None) -> CursorKey | None:
    """``after``: ``<created_ms>.<rid>``, both non-negative integers."""
    if text is None or text == "":
        return None
    created, _, rid = text.partition(".")
    if not (created.isascii() and created.isdigit() and rid.isascii() and rid.isdigit()):
        raise BadParameter("after", "not a page position this site gave (use its Next link)")
    if len(created) > 18 or len(rid) > 18:
        raise BadParameter("after", "not a page position this site gave (use its Next link)")
    return (int(created), int(rid))


def excerpt(text: str) -> str:
    if len(text) <= SUMMARY_CHARS:
        return text
    cut = text[:SUMMARY_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(",.;:") + "…"


def list_row(row: QueryRow, kind: QueryKind) -> ListRow:
    record = row.record
    assert record.body is not None  # a page holds current records, which have bodies
    body = decode_body(kind, record.body)
    record_id = record.id.hex()
    deployment = body if isinstance(body, Deployment) else None
    incident = body if isinstance(body, Incident) else None
    return ListRow(
        id=record_id,
        path=f"/{KIND_PATHS[kind]}/{record_id}",
        created_ms=row.created_ms,
        deployment=deployment,
        incident=incident,
        summary=excerpt(incident.summary) if incident is not None else None,
    )


def number(value: int, lang: str) -> str:
    """A count with thousands grouped as ``lang`` writes them (1,234 / 1.234)."""
    grouped = f"{value:,}"
    return grouped.replace(",", ".") if lang == "es" else grouped


def add_list_route(kind: QueryKind) -> None:
    path = f"/{KIND_PATHS[kind]}"

    @routes.get(path)
    @public_page
    async def page(request: web.Request, t: Catalog) -> web.Response:
        wanted = page_filter(request, extra=("after",))
        after = parse_after(request.query.get("after"))
        rows: list[QueryRow] = []
        total = 0
        if wanted.applies_to(kind):
            query = wanted.query(kind)
            queries = request.app[STORE].queries
            rows = await queries.page(query, ("created", True), after, PAGE_SIZE + 1)
            # The rollup does not hold FRT capability: a filter on it is counted by a scan.
            counted = queries.scan_stats if query.frt else queries.stats
            total = (await counted(query, ())).total.count
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        next_link = None
        if more:
            created, rid = rows[-1].cursor_key("created")
            next_link = wanted.link(path, t.lang, after=f"{created}.{rid}")
        one, other = COUNTS[kind]
        text = render(
            request,
            "list.html",
            t,
            switch_to=_switch(wanted, path, request.query.get("after")),
            nav=KIND_PATHS[kind],
            title=t(TITLES[kind]),
            kind=kind,
            path=path,
            rows=[list_row(row, kind) for row in rows],
            count_text=t(one if total == 1 else other) % {"count": number(total, t.lang)},
            filtered=bool(wanted),
            paged=after is not None,
            first_link=wanted.link(path, t.lang),
            next_link=next_link,
            fields=form_fields((kind,)),
            current=wanted.values,
            countries=list(countries(t.lang)),
            value_label=value_label,
            utc_time=utc_time,
        )
        return html(text)


def _switch(wanted: PageFilter, path: str, after: str | None) -> str:
    """The page's address without ``lang``, for the language switch."""
    link = wanted.link(path, "", after=after)
    return link.removesuffix("&lang=").removesuffix("?lang=")


add_list_route("deployment")
add_list_route("incident")
