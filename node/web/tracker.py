"""The records-request tracker: what was asked of which agency, and what it answered.

    GET /requests    the public records requests, overdue first (the longest overdue
                     first), then those still open by due date, then the answered
                     ones; how many are in each status; the agencies with the most
                     overdue and open requests; each request with its law, dates,
                     status, timeline, released documents and links. Filter by
                     agency (``agency``: its record id, any version), country,
                     status, and ``overdue=1``

A request is overdue when its ``due_on`` (computed at publishing from the law's
response days, docs/records.md) is past and its status is not one that answers
it: judged on the day the page is built, whose answer is kept per UTC day
(:func:`node.web.site.daily_page`). Requesters are never in a record, so never
on this page.
"""

from typing import Any, Final

from aiohttp import web

from node.state import STORE
from node.web.agencypage import requests_order
from node.web.campaignparams import page_params
from node.web.campaignview import REQUEST_STATUSES, AgencyLink, agency_path, request_item
from node.web.i18n import N_, Catalog, countries, format_count
from node.web.site import PUBLIC, daily_page, html, render, utc_day
from protocol.campaign import AgencyProfile
from protocol.kinds import decode_body
from storage.campaignindexes import REQUEST_STATE
from storage.campaignreads import CampaignReads, Condition, answered_sql, overdue_sql

routes = web.RouteTableDef()

PAGE_SIZE: Final = 25
TOP_AGENCIES: Final = 15


@routes.get("/requests")
@daily_page
async def tracker(request: web.Request, t: Catalog) -> web.Response:
    params = page_params(request, ("agency", "country", "status", "overdue", "page"))
    agency_id = params.record_id("agency")
    country = params.country()
    status = params.choice("status", REQUEST_STATUSES)
    overdue_only = params.choice("overdue", ("1",)) == "1"
    number = params.page()
    store = request.app[STORE]
    reads = CampaignReads(store.db, PUBLIC)
    today = utc_day(store.clock())
    overdue, overdue_params = overdue_sql(today)
    answered, answered_params = answered_sql()
    base = Condition().equal("r.country", country)
    agency_name = None
    if agency_id is not None:
        versions = (await reads.versions([agency_id]))[agency_id] or [agency_id]
        base.within("r.agency_ref", versions)
        found = await reads.rows("agency", Condition().within("r.id", [agency_id]), "r.rid", 1)
        if found:
            body = decode_body("agency", found[0].body)
            assert isinstance(body, AgencyProfile)
            agency_name = body.name
    # The counts by status cover the agency and country chosen, whatever status is.
    by_status = await reads.groups(
        "records_request",
        base,
        ["r.status"],
        f"SUM(CASE WHEN {overdue} THEN 1 ELSE 0 END)",
        overdue_params,
    )
    counts = {row[0]: row[1] for row in by_status}
    late_total = sum(row[2] or 0 for row in by_status)
    condition = Condition(list(base.clauses), list(base.params)).equal("r.status", status)
    if overdue_only:
        condition.add(overdue, overdue_params)
    order, order_params = requests_order(today)
    rows = await reads.rows(
        "records_request",
        condition,
        order,
        PAGE_SIZE + 1,
        (number - 1) * PAGE_SIZE,
        order_params,
        # One agency's requests are few, through agency_ref; all of them, the index
        # holding every column the order reads.
        index=None if agency_id else REQUEST_STATE,
    )
    # The agencies keeping people waiting: grouped over the unanswered requests only
    # (the table shows overdue and waiting ones), and not when one agency is chosen.
    agencies: list[tuple[Any, ...]] = []
    if agency_id is None:
        waiting = Condition([*condition.clauses, f"NOT {answered}"])
        waiting.params = [*condition.params, *answered_params]
        agencies = await reads.groups(
            "records_request",
            waiting,
            ["r.agency_ref", "r.agency"],
            f"SUM(CASE WHEN {overdue} THEN 1 ELSE 0 END)",
            overdue_params,
            index=REQUEST_STATE,
        )
    top = sorted(agencies, key=lambda g: (-(g[3] or 0), -g[2], g[1] or ""))
    names = dict(countries(t.lang))
    text = render(
        request,
        "requests.html",
        t,
        switch_to=params.switch_to("/requests"),
        nav="requests",
        title=t(N_("requests.title")),
        agency_name=agency_name,
        agency_page=agency_path(agency_id, t.lang) if agency_id else None,
        statuses=[(s, counts.get(s, 0)) for s in REQUEST_STATUSES if counts.get(s)],
        total=format_count(sum(counts.values()), t.lang),
        late_total=late_total,
        top_agencies=[
            (
                AgencyLink(name or "?", agency_path(ref, t.lang) if ref else None),
                params.link("/requests", t.lang, agency=ref.hex(), page=None) if ref else None,
                late or 0,
                still_open,
            )
            for ref, name, still_open, late in top[:TOP_AGENCIES]
        ],
        items=[request_item(row, today, t) for row in rows[:PAGE_SIZE]],
        filtered=bool(params.values.keys() - {"page"}),
        current=params.values,
        status_link=lambda word: params.link("/requests", t.lang, status=word, page=None),
        overdue_link=params.link("/requests", t.lang, overdue="1", status=None, page=None),
        fields=[
            ("country", t(N_("filter.country")), list(names.items())),
            (
                "status",
                t(N_("requests.status")),
                [(s, t(f"request_status.{s}")) for s in REQUEST_STATUSES],
            ),
            ("overdue", t(N_("requests.overdue_field")), [("1", t(N_("requests.overdue_only")))]),
        ],
        keep=[("agency", params.values["agency"])] if agency_id else [],
        previous_link=params.link("/requests", t.lang, page=str(number - 1))
        if number > 1
        else None,
        next_link=params.link("/requests", t.lang, page=str(number + 1))
        if len(rows) > PAGE_SIZE
        else None,
    )
    return html(text)
