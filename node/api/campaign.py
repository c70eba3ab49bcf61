"""Routes of the campaign kinds: agencies, vendors, policies, records requests, actions.

``GET /api/v1/{agencies,vendors,policies,requests,actions}`` page through the
current records of one kind, filtered (:mod:`node.campaignparams`) and sorted
like ``/api/v1/incidents``; requests and actions also sort by ``due`` (a
request's ``due_on``, an action's ``closes_on``), so overdue requests and
closing actions come first. ``GET /api/v1/stats/campaign`` counts them
(:mod:`storage.campaignstats`). ``GET /api/v1/actions/osdi`` gives the actions as
OSDI resources for campaigning tools (:mod:`node.exports.osdi`): pointers with
public metadata, never a supporter. Without a token only public records are
visible, as on the other query routes.
"""

import datetime
from typing import Final

from aiohttp import web

from node.api.query import DEFAULT_PAGE, MAX_PAGE, decode_cursor, encode_cursor, queries
from node.api.records import stored_view
from node.auth import readable_audiences, token_info
from node.campaignparams import CAMPAIGN_LISTS, CampaignList, parse_campaign_filter
from node.exports.osdi import OSDI_MEDIA_TYPE, osdi_collection
from node.params import int_param
from node.problems import BadParameter
from node.reads import json_answer
from node.state import STORE
from storage.queries import SortKey, SortOrder

routes = web.RouteTableDef()
PAGE_PARAMETERS: Final = frozenset({"sort", "limit", "cursor"})
DUE_SORTED: Final = frozenset({"records_request", "action"})


def sorts(listing: CampaignList) -> tuple[str, ...]:
    keys = ("created", "occurred", "due") if listing.kind in DUE_SORTED else ("created",)
    if listing.date and "occurred" not in keys:
        keys = (*keys, "occurred")
    return tuple(text for key in keys for text in (key, "-" + key))


def default_sort(listing: CampaignList) -> str:
    return "due" if listing.kind in DUE_SORTED else "-created"


def today(request: web.Request) -> datetime.date:
    """The node's day (UTC), by the store's clock."""
    ms = request.app[STORE].clock()
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).date()


def _sort(listing: CampaignList, text: str) -> SortOrder:
    if text not in sorts(listing):
        raise BadParameter("sort", f"must be one of {', '.join(sorts(listing))}")
    key: SortKey = "created"
    if text.lstrip("-") in ("occurred", "due"):
        key = "occurred" if text.lstrip("-") == "occurred" else "due"
    return key, text.startswith("-")


def _list_route(listing: CampaignList) -> None:
    async def handler(request: web.Request) -> web.Response:
        audiences = readable_audiences(await token_info(request))
        query = request.query
        where = parse_campaign_filter(
            query, listing, audiences, today(request), allowed_extra=PAGE_PARAMETERS
        )
        sort = _sort(listing, query.get("sort", default_sort(listing)))
        limit = int_param(query, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
        after = decode_cursor(query["cursor"], sort) if "cursor" in query else None
        rows = await queries(request).page(where, sort, after, limit)
        last = rows[-1].cursor_key(sort[0]) if len(rows) == limit else None
        next_cursor = encode_cursor(last, sort) if last is not None else None
        return await json_answer(
            lambda: {
                "records": [stored_view(row.record) for row in rows],
                "next_cursor": next_cursor,
                "audiences": list(audiences),
            },
            len(rows),
        )

    handler.__name__ = f"list_{listing.plural}"
    routes.get(f"/api/v1/{listing.plural}")(handler)


for _listing in CAMPAIGN_LISTS.values():
    _list_route(_listing)


@routes.get("/api/v1/actions/osdi")
async def actions_osdi(request: web.Request) -> web.Response:
    """Open actions (or those the filters select) as an OSDI collection."""
    audiences = readable_audiences(await token_info(request))
    listing = CAMPAIGN_LISTS["actions"]
    where = parse_campaign_filter(
        request.query, listing, audiences, today(request), allowed_extra=frozenset({"limit"})
    )
    limit = int_param(request.query, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    rows = await queries(request).page(where, ("due", False), None, limit)
    document = osdi_collection([row.record for row in rows], request.url.path)
    return web.json_response(document, content_type=OSDI_MEDIA_TYPE)


@routes.get("/api/v1/stats/campaign")
async def campaign_stats(request: web.Request) -> web.Response:
    """Exact counts of the current campaign records, by status, type and country."""
    audiences = readable_audiences(await token_info(request))
    unknown = sorted(request.query)
    if unknown:
        raise BadParameter(unknown[0][:40], "unknown parameter; campaign stats take none")
    on = today(request).isoformat()
    counts = await queries(request).campaign_stats(audiences, on)
    return web.json_response({"today": on, **counts, "audiences": list(audiences)})
