"""Actions in the shape of the Open Supporter Data Interface (OSDI), for campaigning tools.

OSDI (https://opensupporter.github.io/osdi-docs/) is the interchange format of
tools such as Action Network. banscan gives only pointers: each ``action``
record becomes a petition, an event or an advocacy campaign resource with its
title, description, link, dates and target, and an ``identifiers`` entry
``banscan:<record id>``. OSDI's people, signatures, attendances and outreaches
(supporter data) never appear: no record holds any.

Petitions go under ``osdi:petitions`` (``target``, a list of ``{"name"}``),
hearings and events under ``osdi:events`` (open RSVP, all-day on the first day
one can act, located by city and ISO 3166-2 region and country), letters,
calls and public comments under ``osdi:advocacy_campaigns`` (``type`` ``email``
or ``phone``, ``targets`` a description of who is pressed), in one HAL
collection, with the ``curies`` link that names the ``osdi`` relations. The
fields follow the OSDI documents' field tables (events.md, petitions.md,
advocacy_campaigns.md); what OSDI has no field for (the action's own type,
jurisdiction, first and last day) is under ``banscan:`` names.
"""

from collections.abc import Sequence
from typing import Any, Final

from protocol.campaign import Action, split_region
from protocol.kinds import decode_body
from protocol.utc import utc_text
from storage.stored import StoredRecord

OSDI_MEDIA_TYPE: Final = "application/hal+json"
ORIGIN_SYSTEM: Final = "banscan"
# HAL's curie for the "osdi:" link relations: they are the OSDI documents' resources.
OSDI_CURIE: Final = {
    "name": "osdi",
    "href": "https://opensupporter.github.io/osdi-docs/{rel}.html",
    "templated": True,
}
RESOURCES: Final = {
    "petition": "osdi:petitions",
    "hearing": "osdi:events",
    "event": "osdi:events",
    "letter": "osdi:advocacy_campaigns",
    "public_comment": "osdi:advocacy_campaigns",
    "call": "osdi:advocacy_campaigns",
}
# OSDI's advocacy campaign type says how people reach the target.
ADVOCACY_TYPES: Final = {"letter": "email", "public_comment": "email", "call": "phone"}


def osdi_resource(record: StoredRecord) -> tuple[str, dict[str, Any]]:
    """The collection name and the OSDI resource of one current ``action`` record."""
    assert record.body is not None
    action = decode_body("action", record.body)
    assert isinstance(action, Action)
    created = utc_text(record.envelope.created_ms, "rfc3339")
    resource: dict[str, Any] = {
        "identifiers": [f"{ORIGIN_SYSTEM}:{record.id.hex()}"],
        "origin_system": ORIGIN_SYSTEM,
        "created_date": created,
        "modified_date": created,  # a change is a new record, with its own id
        "title": action.title,
        "description": action.summary,
        "summary": action.summary,
        "browser_url": action.url,
    }
    name = RESOURCES[action.type]
    country, region = split_region(action.jurisdiction.code)
    if name == "osdi:events":
        # OSDI's start_date and end_date are times of day, which an action does not
        # have; an all-day event has its day in all_day_date.
        day = action.opens_on or action.closes_on
        resource.update(
            type="open",  # an open RSVP, not ticketed
            status="confirmed",
            visibility="public",
            all_day=True if day else None,
            all_day_date=day,
            location={"locality": action.jurisdiction.city, "region": region, "country": country},
        )
    elif name == "osdi:petitions":
        resource["target"] = [{"name": action.target.name}]
    else:
        resource["type"] = ADVOCACY_TYPES[action.type]
        resource["targets"] = action.target.name  # OSDI: a human readable description
    # Fields OSDI does not have, named apart (tools ignore names they do not know).
    resource["banscan:action_type"] = action.type
    resource["banscan:jurisdiction"] = action.jurisdiction.code
    resource["banscan:opens_on"] = action.opens_on
    resource["banscan:closes_on"] = action.closes_on
    return name, _without_empty(resource)


def _without_empty(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` without the fields that are None, in nested maps too; an emptied map goes."""
    kept: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            item = _without_empty(item) or None
        if item is not None:
            kept[key] = item
    return kept


def osdi_collection(records: Sequence[StoredRecord], self_href: str) -> dict[str, Any]:
    """A HAL collection of the actions of ``records`` whose bodies are held."""
    embedded: dict[str, list[dict[str, Any]]] = {
        name: [] for name in sorted(set(RESOURCES.values()))
    }
    for record in records:
        if record.body is not None:
            name, resource = osdi_resource(record)
            embedded[name].append(resource)
    total = sum(len(resources) for resources in embedded.values())
    return {
        "total_records": total,
        "per_page": total,
        "page": 1,
        "total_pages": 1,
        "_links": {"self": {"href": self_href}, "curies": [OSDI_CURIE]},
        "_embedded": embedded,
    }
