"""What a visitor can do now: the open actions near the city they choose.

    GET /act    a form (country, city; typed or chosen, never located by the
                browser), then the open actions for that city, for its region and
                for its whole country, soonest closing first; with nothing chosen,
                the open actions everywhere, soonest closing first

An action is a pointer (a petition, a letter, a call, a public comment, a
hearing, an event) with public metadata only; no supporter data is in any
record, and the page links out with ``rel="noreferrer"`` so the site never tells
a campaign who sent a visitor. A city's region is the region that the network's
own records (agencies, actions, policies) give that city: ``Barcelona`` is in
``ES-CT`` because a record there says so. The page sets no cookie and keeps
nothing of what was typed: the form is a GET, answered like any other page.

:func:`open_actions` also serves the call to act at the end of the map and the
agency pages.
"""

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from aiohttp import web

from node.state import STORE
from node.web.agencypage import ACTIONS_ORDER, open_condition
from node.web.campaignparams import page_params
from node.web.campaignview import ActionItem, action_item
from node.web.i18n import N_, Catalog, countries
from node.web.recordview import place
from node.web.regions import region_name
from node.web.site import PUBLIC, daily_page, html, render, utc_day
from storage.campaignreads import CampaignReads, Condition

routes = web.RouteTableDef()

SHOWN: Final = 30
CALL_SHOWN: Final = 3
KNOWN_CITIES: Final = 300


@dataclass(frozen=True)
class ActionGroup:
    heading: str
    actions: list[ActionItem]


async def open_actions(
    reads: CampaignReads, today: str, t: Catalog, country: str | None, city: str | None, limit: int
) -> list[ActionItem]:
    """Open actions, soonest closing first: in ``city`` (any country, or ``country``),
    else in ``country``, else anywhere."""
    condition = open_condition(today).equal("r.country", country)
    condition.equal("r.city", city, nocase=True)
    rows = await reads.rows("action", condition, ACTIONS_ORDER, limit)
    return [action_item(row, today, t) for row in rows]


def act_link(lang: str, country: str | None = None, city: str | None = None) -> str:
    chosen = [(name, value) for name, value in (("country", country), ("city", city)) if value]
    return f"/act?{urlencode([*chosen, ('lang', lang)])}"


async def nearby(
    reads: CampaignReads, today: str, t: Catalog, country: str | None, city: str
) -> list[ActionGroup]:
    """The open actions of ``city``, then of the regions and countries the network's
    records place it in."""
    where_city = Condition().equal("r.country", country).equal("r.city", city, nocase=True)
    places = await reads.places(("agency", "action", "policy"), where_city, 20)
    # The city as the records spell it ("Barcelona"), not as typed ("barcelona").
    spelled = next((found for _, _, found in places if found), city)
    groups = [ActionGroup(t(N_("act.in_place")) % {"place": spelled}, [])]
    rows = await reads.rows(
        "action",
        open_condition(today).equal("r.country", country).equal("r.city", city, nocase=True),
        ACTIONS_ORDER,
        SHOWN,
    )
    groups[0].actions.extend(action_item(row, today, t) for row in rows)
    regions = sorted({(c, r) for c, r, _ in places if c and r})
    for found_country, region in regions:
        condition = (
            open_condition(today).equal("r.country", found_country).equal("r.region", region)
        )
        condition.add("r.city IS NULL")
        rows = await reads.rows("action", condition, ACTIONS_ORDER, SHOWN)
        named = region_name(t.lang, found_country, region)
        heading = t(N_("act.in_place")) % {"place": place(t, None, named, found_country)}
        groups.append(ActionGroup(heading, [action_item(row, today, t) for row in rows]))
    for found_country in sorted({c for c, _, _ in places if c} | ({country} if country else set())):
        condition = open_condition(today).equal("r.country", found_country)
        condition.add("r.region IS NULL AND r.city IS NULL")
        rows = await reads.rows("action", condition, ACTIONS_ORDER, SHOWN)
        heading = t(N_("act.across")) % {"place": t(f"country.{found_country}")}
        groups.append(ActionGroup(heading, [action_item(row, today, t) for row in rows]))
    return groups


@routes.get("/act")
@daily_page
async def act(request: web.Request, t: Catalog) -> web.Response:
    params = page_params(request, ("country", "city"))
    country, city = params.country(), params.get("city")
    store = request.app[STORE]
    reads = CampaignReads(store.db, PUBLIC)
    today = utc_day(store.clock())
    if city:
        groups = await nearby(reads, today, t, country, city)
    elif country:
        heading = t(N_("act.in_place")) % {"place": t(f"country.{country}")}
        groups = [ActionGroup(heading, await open_actions(reads, today, t, country, None, SHOWN))]
    else:
        groups = [
            ActionGroup(
                t(N_("act.everywhere")), await open_actions(reads, today, t, None, None, SHOWN)
            )
        ]
    known = await reads.places(
        ("action",), open_condition(today).add("r.city IS NOT NULL"), KNOWN_CITIES
    )
    text = render(
        request,
        "act.html",
        t,
        switch_to=params.switch_to("/act"),
        nav="act",
        title=t(N_("act.title")),
        groups=groups,
        chosen=bool(city or country),
        current=params.values,
        countries=list(countries(t.lang)),
        known_cities=sorted({c for _, _, c in known if c}),
        found=any(group.actions for group in groups),
    )
    return html(text)
