"""The agencies: who runs facial recognition, and everything the network holds on each.

    GET /agencies        the public agency records, by name: filter by country, type
                         and name; each row counts the cameras, incidents, policies,
                         records requests (overdue ones too) and open actions pointing
                         at the agency
    GET /agencies/{id}   one agency: its record, those counts, a small map of its
                         cameras and incident areas (:mod:`node.web.agencymap`), its
                         newest cameras and incidents, the policies for it or its
                         jurisdiction, its records requests (overdue first) and open
                         actions, and a call to act

Records point at an agency by its record id (``agency.record``, or an action's
``target.record``); what points at an earlier version of it counts for it too.
An id the node does not hold, of another kind or audience, is the same 404 page;
a withdrawn agency shows only that it was withdrawn. Incidents appear as on
``/incidents`` (city, region and country, never their area) and on the map only
as area counts of at least ``[site] min_incidents_per_cell``.
"""

from typing import Final

from aiohttp import web

from node.state import STORE
from node.web.agencymap import agency_map
from node.web.agencypage import agency_sections
from node.web.campaignparams import like_pattern, page_params
from node.web.campaignview import AGENCY_TYPES, agency_item
from node.web.i18n import N_, Catalog, countries, format_count
from node.web.recordpage import requested_id
from node.web.recordview import record_view, utc_time
from node.web.site import PUBLIC, SITE, daily_page, html, render, utc_day
from storage.campaignindexes import AGENCY_NAME
from storage.campaignreads import AgencyCounts, CampaignReads, Condition
from storage.history import RecordHistory

routes = web.RouteTableDef()

PAGE_SIZE: Final = 50
COUNT_CAP: Final = 10_000


@routes.get("/agencies")
@daily_page
async def agencies(request: web.Request, t: Catalog) -> web.Response:
    params = page_params(request, ("country", "type", "q", "page"))
    country, kind, name = params.country(), params.choice("type", AGENCY_TYPES), params.get("q")
    number = params.page()
    condition = Condition().equal("r.country", country).equal("r.category", kind)
    if name:
        condition.add("r.agency LIKE ? ESCAPE '\\'", [like_pattern(name)])
    store = request.app[STORE]
    reads = CampaignReads(store.db, PUBLIC)
    today = utc_day(store.clock())
    rows = await reads.rows(
        "agency",
        condition,
        "r.agency COLLATE NOCASE, r.rid",
        PAGE_SIZE + 1,
        (number - 1) * PAGE_SIZE,
        # By name, unless a country or a type narrows the agencies to sort.
        index=None if country or kind else AGENCY_NAME,
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    total = await reads.count("agency", condition, COUNT_CAP + 1)
    versions = await reads.versions([row.id for row in rows])
    every = [version for ids in versions.values() for version in ids]
    by_ref = await reads.agency_counts(every, today)
    items = []
    for row in rows:
        counts = AgencyCounts()
        for version in versions.get(row.id, [row.id]):
            found = by_ref.get(version)
            if found is not None:
                for field in vars(counts):
                    setattr(counts, field, getattr(counts, field) + getattr(found, field))
        items.append(agency_item(row, counts, t))
    text = render(
        request,
        "agencies.html",
        t,
        switch_to=params.switch_to("/agencies"),
        nav="agencies",
        title=t(N_("agencies.title")),
        items=items,
        total=format_count(min(total, COUNT_CAP), t.lang),
        capped=total > COUNT_CAP,
        filtered=bool(params.values.keys() - {"page"}),
        current=params.values,
        fields=[
            ("country", t(N_("filter.country")), list(countries(t.lang))),
            ("type", t(N_("agencies.type")), [(v, t(f"agency_type.{v}")) for v in AGENCY_TYPES]),
            ("q", t(N_("agencies.name")), None),
        ],
        previous_link=params.link("/agencies", t.lang, page=str(number - 1))
        if number > 1
        else None,
        next_link=params.link("/agencies", t.lang, page=str(number + 1)) if more else None,
    )
    return html(text)


@routes.get("/agencies/{id}")
@daily_page
async def agency(request: web.Request, t: Catalog) -> web.Response:
    record_id = requested_id(request)
    store = request.app[STORE]
    view = await record_view(store.records, RecordHistory(store.db), record_id, "agency")
    if view is None:
        raise web.HTTPNotFound()
    reads = CampaignReads(store.db, PUBLIC)
    today = utc_day(store.clock())
    refs = [bytes.fromhex(v.id) for v in (*view.earlier, *view.later)] + [record_id]
    sections = None
    small_map = None
    if view.body is not None:
        sections = await agency_sections(reads, view, refs, today, t)
        minimum = request.app[SITE].min_incidents_per_cell
        small_map = await agency_map(reads, refs, minimum, sections.counts.deployments, t)
    text = render(
        request,
        "agency.html",
        t,
        switch_to=request.path,
        nav="agencies",
        view=view,
        sections=sections,
        small_map=small_map,
        utc_time=utc_time,
    )
    return html(text)
