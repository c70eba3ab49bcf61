"""The paths of the campaign kinds' lists and of the actions' OSDI collection."""

from typing import Any

from node.api.campaign import default_sort, sorts
from node.api.openapi.parts import (
    OPTIONAL_BEARER,
    json_answer,
    problem,
    query_parameter,
    schema_ref,
)
from node.api.openapi.patterns import (
    KEY,
    calendar_date,
    listed,
    listed_names,
    listed_text,
    opaque_cursor,
    search_text,
    time_ms,
)
from node.api.query import DEFAULT_PAGE, MAX_PAGE
from node.campaignparams import CAMPAIGN_LISTS, CampaignList
from node.exports.osdi import OSDI_MEDIA_TYPE
from protocol.countries import COUNTRY_CODES

_BAD = problem("A parameter is wrong or unknown; the problem names it.")
_UNKNOWN_TOKEN = problem("A token this node does not know.")


def campaign_parameters(listing: CampaignList) -> list[dict[str, Any]]:
    """The filter parameters of ``listing``, as :func:`parse_campaign_filter` reads them."""
    date = listing.date or ""
    described: dict[str, tuple[str, dict[str, Any]]] = {
        "country": ("ISO 3166-1 alpha-2 codes, comma-separated", listed_names(COUNTRY_CODES)),
        "region": ("ISO 3166-2 subdivision parts (NY for US-NY), comma-separated", listed_text()),
        "city": ("Cities, comma-separated", listed_text()),
        "origin": ("Chapter keys (ed25519:...), comma-separated", listed(KEY)),
        "agency": ("Agency names (case-insensitive), comma-separated", listed_text()),
        "created_from": ("created_ms from (inclusive): milliseconds or RFC 3339", time_ms()),
        "created_to": ("created_ms to (inclusive): milliseconds or RFC 3339", time_ms()),
        "q": ("Words that must all occur in its searchable text", search_text()),
        "agency_record": ("Ids of the agency records it points at", listed("[0-9a-f]{64}")),
        "status": (
            "Statuses, comma-separated: " + ", ".join(sorted(listing.statuses)),
            listed_names(listing.statuses),
        ),
        "date_from": (f"Its date ({date}) from (inclusive)", calendar_date()),
        "date_to": (f"Its date ({date}) to (inclusive)", calendar_date()),
        "overdue": (
            "true: only requests past due_on whose status does not answer them",
            {"type": "string", "enum": ["true", "false"]},
        ),
        "due_from": ("due_on from (inclusive)", calendar_date()),
        "due_to": ("due_on to (inclusive)", calendar_date()),
        "open_on": ("Only actions open on this day", calendar_date()),
    }
    if listing.category:
        words = listing.categories
        described[listing.category] = (
            f"{listing.category} values, comma-separated"
            + (": " + ", ".join(sorted(words)) if words else ""),
            listed_names(words) if words else listed_text(),
        )
    return [
        query_parameter(name, *described[name])
        for name in listing.parameters()
        if name in described
    ]


def campaign_export_parameters(given: set[str]) -> list[dict[str, Any]]:
    """The campaign lists' parameters not in ``given``: what the export adds for their kinds."""
    found: dict[str, dict[str, Any]] = {}
    for listing in CAMPAIGN_LISTS.values():
        for parameter in campaign_parameters(listing):
            if parameter["name"] not in given and parameter["name"] not in found:
                described = f"Campaign kinds ({listing.plural} and others): "
                found[parameter["name"]] = parameter | {
                    "description": described + parameter.get("description", ""),
                }
    return list(found.values())


def _list_operation(listing: CampaignList) -> dict[str, Any]:
    plural = listing.plural
    return {
        "get": {
            "operationId": f"list{plural.capitalize()}",
            "summary": f"Current {plural}, filtered and sorted, a page at a time",
            "security": OPTIONAL_BEARER,
            "parameters": [
                *campaign_parameters(listing),
                query_parameter(
                    "sort",
                    "A leading - sorts descending",
                    {
                        "type": "string",
                        "enum": list(sorts(listing)),
                        "default": default_sort(listing),
                    },
                ),
                query_parameter(
                    "limit",
                    "Page size",
                    {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE},
                ),
                query_parameter(
                    "cursor", "next_cursor of the previous page (same sort)", opaque_cursor()
                ),
            ],
            "responses": {
                "200": json_answer(f"A page of {plural}", schema_ref("RecordPage")),
                "400": _BAD,
                "401": _UNKNOWN_TOKEN,
            },
        }
    }


def campaign_paths() -> dict[str, Any]:
    actions = CAMPAIGN_LISTS["actions"]
    paths = {
        f"/api/v1/{listing.plural}": _list_operation(listing) for listing in CAMPAIGN_LISTS.values()
    }
    paths["/api/v1/actions/osdi"] = {
        "get": {
            "operationId": "actionsOsdi",
            "summary": "Actions as an OSDI collection of petitions, events and advocacy "
            "campaigns: pointers only, soonest closing first",
            "security": OPTIONAL_BEARER,
            "parameters": [
                *campaign_parameters(actions),
                query_parameter(
                    "limit",
                    "How many actions",
                    {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE},
                ),
            ],
            "responses": {
                "200": {
                    "description": "A HAL collection with _embedded osdi:petitions, "
                    "osdi:events and osdi:advocacy_campaigns",
                    "content": {OSDI_MEDIA_TYPE: {"schema": {"type": "object"}}},
                },
                "400": _BAD,
                "401": _UNKNOWN_TOKEN,
            },
        }
    }
    paths["/api/v1/stats/campaign"] = {
        "get": {
            "operationId": "campaignStats",
            "summary": "Exact counts of the current campaign records: agencies by type and "
            "country, policies by status, instrument and country, records requests by status, "
            "law and country and how many are overdue, actions by type and how many are open",
            "security": OPTIONAL_BEARER,
            "responses": {
                "200": json_answer("Counts per kind", _CAMPAIGN_STATS),
                "400": problem("The route takes no parameters."),
                "401": _UNKNOWN_TOKEN,
            },
        }
    }
    return paths


def _section(*extra: str) -> dict[str, Any]:
    counts = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
    names = [name for name in extra if name.startswith("by_")]
    flags = [name for name in extra if not name.startswith("by_")]
    return {
        "type": "object",
        "required": ["total", *extra],
        "additionalProperties": False,
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            **{name: counts for name in names},
            **{name: {"type": "integer", "minimum": 0} for name in flags},
        },
    }


_CAMPAIGN_STATS: dict[str, Any] = {
    "type": "object",
    "required": ["today", "agencies", "vendors", "policies", "requests", "actions", "audiences"],
    "additionalProperties": False,
    "properties": {
        "today": {"type": "string", "format": "date"},
        "agencies": _section("by_type", "by_country"),
        "vendors": _section(),
        "policies": _section("by_status", "by_instrument", "by_country"),
        "requests": _section("by_status", "by_law", "by_country", "overdue"),
        "actions": _section("by_type", "by_country", "open"),
        "audiences": {"type": "array", "items": {"type": "string"}},
    },
}
