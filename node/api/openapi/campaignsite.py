"""The campaign pages of the public site: agencies, policies, records requests, actions.

HTML pages like the rest of the site (:mod:`node.api.openapi.site`): public
records only, in the visitor's language, errors as pages.
"""

from typing import Any, Final, get_args

from node.api.openapi.parts import query_parameter
from node.api.openapi.site import html_page
from node.params import MAX_FILTER_TEXT, MAX_LIST_PAGE
from protocol.campaign import AgencyProfile, Policy, PolicyStatus, RequestStatus
from protocol.countries import COUNTRY_CODES

AGENCY_TYPES: Final = get_args(AgencyProfile.model_fields["type"].annotation)
INSTRUMENTS: Final = get_args(Policy.model_fields["instrument"].annotation)

_TEXT = {"type": "string", "maxLength": MAX_FILTER_TEXT}
_RECORD_ID = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_COUNTRY = query_parameter(
    "country",
    "An ISO 3166-1 alpha-2 country code (ES)",
    {"enum": sorted(COUNTRY_CODES)},
)
_PAGE = query_parameter(
    "page",
    f"The page, 1 to {MAX_LIST_PAGE}",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIST_PAGE},
)
_PAGE_STATUSES = {
    "200": "The page",
    "400": "A parameter is wrong or unknown; the page names it",
}
_NOT_MODIFIED = {"description": "The client's copy (If-None-Match) is current"}


def _enum(name: str, description: str, values: tuple[str, ...]) -> dict[str, Any]:
    return query_parameter(name, description, {"enum": list(values)})


def campaign_site_paths() -> dict[str, Any]:
    paths = _pages()
    for operations in paths.values():
        operations["get"]["responses"]["304"] = _NOT_MODIFIED
    return paths


def _pages() -> dict[str, Any]:
    return {
        "/agencies": {
            "get": html_page(
                "agenciesPage",
                "Public agency records by name, each with the counts of the cameras, "
                "incidents, policies, records requests (overdue ones) and open actions that "
                "point at it",
                _PAGE_STATUSES,
                [
                    _COUNTRY,
                    _enum("type", "The agency's type", AGENCY_TYPES),
                    query_parameter("q", "Part of the agency's name", _TEXT),
                    _PAGE,
                ],
            )
        },
        "/agencies/{id}": {
            "get": html_page(
                "agencyPage",
                "One agency: its record, counts, a small map (cameras as points, incidents "
                "only as area counts of at least min_incidents_per_cell), its newest cameras "
                "and incidents, policies, records requests (overdue first), open actions",
                {
                    "200": "The page (a withdrawn agency: only that it was withdrawn)",
                    "400": "The id is not 64 lowercase hexadecimal digits, or an unknown parameter",
                    "404": "No public agency record has this id (the same for a non-public one)",
                },
                [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "description": "The agency record's id",
                        "schema": _RECORD_ID,
                    }
                ],
            )
        },
        "/policies": {
            "get": html_page(
                "policiesPage",
                "Where facial recognition is banned or governed: a map of countries by the "
                "strongest policy recorded in them, a table by country, and the policies by "
                "place with their evidence",
                _PAGE_STATUSES,
                [
                    _COUNTRY,
                    _enum("status", "The policy's status", get_args(PolicyStatus)),
                    _enum("instrument", "The policy's instrument", INSTRUMENTS),
                    _PAGE,
                ],
            )
        },
        "/requests": {
            "get": html_page(
                "requestsPage",
                "The records-request tracker: counts by status, agencies by overdue and open "
                "requests, and the requests overdue first, each with its timeline",
                _PAGE_STATUSES,
                [
                    query_parameter("agency", "An agency record's id (any version)", _RECORD_ID),
                    _COUNTRY,
                    _enum("status", "The request's status", get_args(RequestStatus)),
                    _enum("overdue", "1: only requests past due_on without an answer", ("1",)),
                    _PAGE,
                ],
            )
        },
        "/act": {
            "get": html_page(
                "actPage",
                "Open actions (petitions, letters, calls, public comments, hearings, events) "
                "for the city the visitor types, its region and its country; no geolocation",
                _PAGE_STATUSES,
                [query_parameter("city", "A city's name", _TEXT), _COUNTRY],
            )
        },
    }
