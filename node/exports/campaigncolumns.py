"""The campaign kinds' bodies flattened into named CSV columns, each with its HXL hashtag.

Like :mod:`node.exports.columns` for incidents and deployments: a row of
:data:`storage.queries.BodyRow` and its body map give the values in column
order; lists stay lists, which the CSV writer joins. A jurisdiction gives two
columns, ``country`` (``#country+code``) and ``jurisdiction``, its whole ISO
code (``#adm1+code``). These kinds have no point or area, so they have no
GeoJSON (docs/exports.md).
"""

from collections.abc import Callable
from typing import Any, Final

from node.exports.columns import RECORD_COLUMNS, Column, record_values, source_urls
from storage.queries import BodyRow

_PLACE: Final = (
    Column("country", "#country+code"),
    Column("jurisdiction", "#adm1+code"),
    Column("city", "#loc+name"),
    Column("ocd_id", "#adm1+code+ocd"),
)
_AGENCY: Final = (Column("agency", "#org+name"), Column("agency_record", "#org+id"))
_VERSION: Final = (Column("supersedes", "#meta+supersedes"),)

CAMPAIGN_COLUMNS: Final = {
    "agency": (
        *RECORD_COLUMNS,
        Column("name", "#org+name"),
        Column("type", "#org+type"),
        *_PLACE,
        Column("wikidata", "#org+code+wikidata"),
        Column("parent", "#org+id+parent"),
        Column("website", "#meta+url+website"),
        Column("sources", "#meta+url"),
        *_VERSION,
    ),
    "vendor": (
        *RECORD_COLUMNS,
        Column("name", "#org+name"),
        Column("wikidata", "#org+code+wikidata"),
        Column("website", "#meta+url+website"),
        Column("products", "#item+name"),
        Column("technologies", "#item+type"),
        Column("sources", "#meta+url"),
        *_VERSION,
    ),
    "policy": (
        *RECORD_COLUMNS,
        *_PLACE,
        *_AGENCY,
        Column("instrument", "#activity+type"),
        Column("status", "#status"),
        Column("title", "#activity+name"),
        Column("introduced", "#date+introduced"),
        Column("passed", "#date+passed"),
        Column("effective", "#date+effective"),
        Column("scope", "#description"),
        Column("evidence", "#meta+url+evidence"),
        Column("evidence_sha256", "#meta+hash"),
        Column("tags", "#meta+tags"),
        *_VERSION,
    ),
    "records_request": (
        *RECORD_COLUMNS,
        *_AGENCY,
        Column("law", "#meta+law"),
        Column("country", "#country+code"),
        Column("jurisdiction", "#adm1+code"),
        Column("filed_on", "#date+filed"),
        Column("subject", "#description"),
        Column("status", "#status"),
        Column("due_on", "#date+due"),
        Column("events", "#meta+events"),
        Column("exemptions_cited", "#meta+exemptions"),
        Column("responses", "#meta+hash"),
        Column("links", "#meta+url"),
        *_VERSION,
    ),
    "action": (
        *RECORD_COLUMNS,
        Column("type", "#activity+type"),
        Column("title", "#activity+name"),
        Column("target", "#org+name+target"),
        Column("target_record", "#org+id"),
        Column("url", "#meta+url"),
        *_PLACE,
        Column("opens_on", "#date+start"),
        Column("closes_on", "#date+end"),
        Column("summary", "#description"),
        *_VERSION,
    ),
}
# The columns that may hold free text, lists or maps, which the CSV writer guards
# against spreadsheet formulas; the others hold values from fixed sets or patterns.
CAMPAIGN_CONVERTED: Final = {
    "agency": frozenset({"name", "city", "sources"}),
    "vendor": frozenset({"name", "products", "technologies", "sources"}),
    "policy": frozenset(
        {"city", "agency", "title", "scope", "evidence", "evidence_sha256", "tags"}
    ),
    "records_request": frozenset(
        {"agency", "law", "subject", "events", "exemptions_cited", "responses", "links"}
    ),
    "action": frozenset({"title", "target", "city", "summary"}),
}


def _place(body: dict[str, Any]) -> list[Any]:
    place = body["jurisdiction"]
    code = place["code"]
    return [code.split("-")[0], code, place.get("city"), place.get("ocd_id")]


def _agency(agency: dict[str, Any] | None) -> list[Any]:
    return [agency.get("name"), agency.get("record")] if agency else [None, None]


def agency_values(row: BodyRow, body: dict[str, Any]) -> list[Any]:
    return [
        *record_values(row),
        body["name"],
        body["type"],
        *_place(body),
        body.get("wikidata"),
        body.get("parent"),
        body.get("website"),
        source_urls(body),
        body.get("supersedes"),
    ]


def vendor_values(row: BodyRow, body: dict[str, Any]) -> list[Any]:
    products = body.get("products", ())
    return [
        *record_values(row),
        body["name"],
        body.get("wikidata"),
        body.get("website"),
        [p["name"] for p in products],
        sorted({p["technology"] for p in products}),
        source_urls(body),
        body.get("supersedes"),
    ]


def policy_values(row: BodyRow, body: dict[str, Any]) -> list[Any]:
    dates = body.get("dates") or {}
    evidence = body.get("evidence", ())
    return [
        *record_values(row),
        *_place(body),
        *_agency(body.get("agency")),
        body["instrument"],
        body["status"],
        body.get("title"),
        dates.get("introduced"),
        dates.get("passed"),
        dates.get("effective"),
        body.get("scope"),
        [e["url"] for e in evidence],
        [e["sha256"] for e in evidence],
        list(body.get("tags", ())),
        body.get("supersedes"),
    ]


def records_request_values(row: BodyRow, body: dict[str, Any]) -> list[Any]:
    code = body["law"].split(" ", 1)[0]
    return [
        *record_values(row),
        *_agency(body["agency"]),
        body["law"],
        code.split("-")[0],
        code,
        body["filed_on"],
        body["subject"],
        body["status"],
        body.get("due_on"),
        [f"{e['on']}:{e['status']}" for e in body.get("events", ())],
        list(body.get("exemptions_cited", ())),
        [r["sha256"] for r in body.get("responses", ())],
        list(body.get("links", ())),
        body.get("supersedes"),
    ]


def action_values(row: BodyRow, body: dict[str, Any]) -> list[Any]:
    return [
        *record_values(row),
        body["type"],
        body["title"],
        *_agency(body["target"]),
        body["url"],
        *_place(body),
        body.get("opens_on"),
        body.get("closes_on"),
        body.get("summary"),
        body.get("supersedes"),
    ]


CAMPAIGN_ROW_VALUES: Final[dict[str, Callable[[BodyRow, dict[str, Any]], list[Any]]]] = {
    "agency": agency_values,
    "vendor": vendor_values,
    "policy": policy_values,
    "records_request": records_request_values,
    "action": action_values,
}
