"""Where facial recognition is banned, governed, proposed or bought: the policies.

    GET /policies    a map of countries by the strongest policy recorded in them
                     (:mod:`node.web.policymap`), a table of countries by standing,
                     and the policies themselves, by place, each with its
                     instrument, status, dates, scope and evidence; filter by
                     country, status and instrument

A policy's status other than "not recorded" always has evidence (the record
kind refuses it without), so every row of the table links to what its status
rests on, with the document's hash. The order is the place (country, region,
city), then the newest first; pages of :data:`PAGE_SIZE`.
"""

from typing import Final

from aiohttp import web

from node.state import STORE
from node.web.campaignparams import page_params
from node.web.campaignview import INSTRUMENTS, POLICY_STATUSES, policy_item
from node.web.i18n import N_, Catalog, countries, format_count
from node.web.policymap import STANDINGS, by_country, policy_drawing
from node.web.site import PUBLIC, html, public_page, render
from storage.campaignindexes import POLICY_PLACE
from storage.campaignreads import CampaignReads, Condition

routes = web.RouteTableDef()

PAGE_SIZE: Final = 50
# By place: a country's own policies first (NULL sorts first), then its regions', then
# cities'; the order of the index storage.campaignindexes adds, so a page walks it.
ORDER: Final = "r.country, r.region, r.city, r.rid DESC"


@routes.get("/policies")
@public_page
async def policies(request: web.Request, t: Catalog) -> web.Response:
    params = page_params(request, ("country", "status", "instrument", "page"))
    country = params.country()
    status = params.choice("status", POLICY_STATUSES)
    instrument = params.choice("instrument", INSTRUMENTS)
    number = params.page()
    condition = Condition().equal("r.country", country).equal("r.status", status)
    condition.equal("r.category", instrument)
    reads = CampaignReads(request.app[STORE].db, PUBLIC)
    rows = await reads.rows(
        "policy", condition, ORDER, PAGE_SIZE + 1, (number - 1) * PAGE_SIZE, index=POLICY_PLACE
    )
    more = len(rows) > PAGE_SIZE
    groups = await reads.groups(
        "policy", condition, ["r.country", "r.category", "r.status"], index=POLICY_PLACE
    )
    per_country = by_country(groups)
    total = sum(entry.total for entry in per_country)
    names = dict(countries(t.lang))
    text = render(
        request,
        "policies.html",
        t,
        switch_to=params.switch_to("/policies"),
        nav="policies",
        title=t(N_("policies.title")),
        drawing=policy_drawing(per_country, country),
        per_country=sorted(per_country, key=lambda e: (STANDINGS.index(e.standing), -e.total)),
        standings=STANDINGS,
        country_names=names,
        items=[policy_item(row, t) for row in rows[:PAGE_SIZE]],
        total=format_count(total, t.lang),
        filtered=bool(params.values.keys() - {"page"}),
        current=params.values,
        fields=[
            ("country", t(N_("filter.country")), list(names.items())),
            (
                "status",
                t(N_("policy.col.status")),
                [(v, t(f"policy_status.{v}")) for v in POLICY_STATUSES],
            ),
            (
                "instrument",
                t(N_("policy.col.instrument")),
                [(v, t(f"instrument.{v}")) for v in INSTRUMENTS],
            ),
        ],
        country_link=lambda code: params.link("/policies", t.lang, country=code, page=None),
        previous_link=params.link("/policies", t.lang, page=str(number - 1))
        if number > 1
        else None,
        next_link=params.link("/policies", t.lang, page=str(number + 1)) if more else None,
    )
    return html(text)
