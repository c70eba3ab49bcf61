"""The lists of public deployments and incidents, newest first, filtered and paged.

    GET /deployments    cameras and other deployments: place, status, FRT capability
    GET /incidents      incidents: what happened, when, where (city, region, country)

Both take the shared filter (:mod:`node.web.filters`, ``filters.html``) and
``after``, the keyset cursor of the next page (``<created_ms>.<rid>`` of the
page's last row, as :meth:`storage.queries.RecordQueries.page` continues), so
paging never skips or repeats a record when new ones arrive. The order is the
time a record was signed, newest first: an index walk
(``records_current_created``, or the filter's own index, migration 9) at any size.
Each row links to the record's page. The heading counts the matches exactly when
the stats rollup or the site's counts (:mod:`storage.facets`) can, else up to
:data:`COUNT_CAP` ("more than 10,000 match").

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
from node.web.recordview import KIND_PATHS, partial_date, place
from node.web.site import html, public_page, render
from protocol.kinds import Deployment, Incident, decode_body
from storage import facets, rollup
from storage.filters import QueryFilter, QueryKind
from storage.queries import CursorKey, QueryRow, RecordQueries

routes = web.RouteTableDef()

PAGE_SIZE: Final = 50
SUMMARY_CHARS: Final = 240
TITLES: Final = {"deployment": N_("list.title.deployment"), "incident": N_("list.title.incident")}
# "1 camera matches" / "1,234 cameras match" / "More than 10,000 cameras match":
# (one, other, more than) message ids per kind.
COUNTS: Final = {
    "deployment": (
        N_("list.count.deployment.one"),
        N_("list.count.deployment.other"),
        N_("list.count.deployment.more"),
    ),
    "incident": (
        N_("list.count.incident.one"),
        N_("list.count.incident.other"),
        N_("list.count.incident.more"),
    ),
}
# Beyond this many matches a filter the rollup cannot count is "more than" this.
COUNT_CAP: Final = 10_000


def list_message_ids() -> list[str]:
    """The message ids the list template builds from the kind (for babel)."""
    parts = ("intro", "empty", "empty_filtered", "report")
    return [f"list.{part}.{kind}" for part in parts for kind in KIND_PATHS]


@dataclass(frozen=True)
class ListRow:
    """One row of a list, in words (built here rather than by template macros: a page of
    50 rendered three times faster)."""

    path: str
    heading: str
    summary: str | None  # an incident summary's opening, cut at a word
    facts: tuple[tuple[str, str, str | None], ...]  # (label, value, FRT status or None)


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


def list_row(row: QueryRow, kind: QueryKind, t: Catalog) -> ListRow:
    record = row.record
    assert record.body is not None  # a page holds current records, which have bodies
    body = decode_body(kind, record.body)
    path = f"/{KIND_PATHS[kind]}/{record.id.hex()}?lang={t.lang}"
    facts: list[tuple[str, str, str | None]] = []
    if isinstance(body, Deployment):
        frt = body.frt_capability.status
        facts += [
            (t("rec.status"), t(f"record_status.{body.status}"), None),
            (t("rec.frt"), t(f"frt.{frt}"), frt),
        ]
        if body.observed_on is not None:
            facts.append((t("rec.observed_on"), partial_date(body.observed_on), None))
        if operator := body.osm.get("operator"):
            facts.append((t("rec.operator"), operator, None))
        heading = f"{t('list.deployment_at')} {place(t, body.city, None, body.country)}"
        return ListRow(path, heading, None, tuple(facts))
    assert isinstance(body, Incident)
    where = place(t, body.city, body.region, body.country)
    heading = f"{t(f'category.{body.category}')}: {where}, {partial_date(body.occurred_on)}"
    facts.append((t("rec.technology"), t(f"technology.{body.technology.type}"), None))
    if body.agency is not None:
        facts.append((t("rec.agency"), body.agency.name, None))
    facts.append((t("rec.verification"), t(f"record_status.{body.verification.status}"), None))
    return ListRow(path, heading, excerpt(body.summary), tuple(facts))


async def count(queries: RecordQueries, query: QueryFilter) -> int:
    """The number of matches: exact from the stats rollup when it answers the filter
    (none, country, category, whole months), or from the site's counts of public
    records (:mod:`storage.facets`: also city, technology, status, FRT), else counted
    up to :data:`COUNT_CAP` + 1, so a list filtered by a date within a month on a
    million records costs a bounded index walk."""
    if rollup.answerable(query, ()):
        return (await queries.stats(query, ())).total.count
    if facets.answerable(query, ()):
        return (await queries.counts(query, ()))[0][1]
    return await queries.count_up_to(query, COUNT_CAP + 1)


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
            total = await count(queries, query)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        next_link = None
        if more:
            created, rid = rows[-1].cursor_key("created")
            next_link = wanted.link(path, t.lang, after=f"{created}.{rid}")
        one, other, more_than = COUNTS[kind]
        if total > COUNT_CAP:
            count_text = t(more_than) % {"count": number(COUNT_CAP, t.lang)}
        else:
            count_text = t(one if total == 1 else other) % {"count": number(total, t.lang)}
        text = render(
            request,
            "list.html",
            t,
            switch_to=_switch(wanted, path, request.query.get("after")),
            nav=KIND_PATHS[kind],
            title=t(TITLES[kind]),
            kind=kind,
            path=path,
            rows=[list_row(row, kind, t) for row in rows],
            count_text=count_text,
            filtered=bool(wanted),
            paged=after is not None,
            first_link=wanted.link(path, t.lang),
            next_link=next_link,
            fields=form_fields((kind,)),
            current=wanted.values,
            countries=list(countries(t.lang)),
            value_label=value_label,
        )
        return html(text)


def _switch(wanted: PageFilter, path: str, after: str | None) -> str:
    """The page's address without ``lang``, for the language switch."""
    link = wanted.link(path, "", after=after)
    return link.removesuffix("&lang=").removesuffix("?lang=")


add_list_route("deployment")
add_list_route("incident")
