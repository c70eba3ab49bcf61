"""Actions in the shape of the Open Supporter Data Interface (OSDI), for campaigning tools.

OSDI (https://opensupporter.github.io/osdi-docs/) is the interchange format of
tools such as Action Network. banscan gives only pointers: each ``action``
record becomes a petition, an event or an advocacy campaign resource with its
title, description, link, dates and target, and an ``identifiers`` entry
``banscan:<record id>``. OSDI's people, signatures, attendances and outreaches
(supporter data) never appear: no record holds any.

Petitions go under ``osdi:petitions``, hearings and events under
``osdi:events``, letters, calls and public comments under
``osdi:advocacy_campaigns`` (``type`` ``email`` or ``phone``), in one HAL
collection.
"""

from collections.abc import Sequence
from typing import Any, Final

from protocol.campaign import Action
from protocol.kinds import decode_body
from protocol.utc import utc_text
from storage.stored import StoredRecord

OSDI_MEDIA_TYPE: Final = "application/hal+json"
ORIGIN_SYSTEM: Final = "banscan"
RESOURCES: Final = {
    "petition": "osdi:petitions",
    "hearing": "osdi:events",
    "event": "osdi:events",
    "letter": "osdi:advocacy_campaigns",
    "public_comment": "osdi:advocacy_campaigns",
    "call": "osdi:advocacy_campaigns",
}


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
        "modified_date": created,
        "title": action.title,
        "browser_url": action.url,
    }
    if action.summary:
        resource["description"] = action.summary
    name = RESOURCES[action.type]
    target = {"name": action.target.name}
    if name == "osdi:events":
        resource["start_date"] = action.opens_on
        resource["end_date"] = action.closes_on
        resource["status"] = "confirmed"
        resource["location"] = {"locality": action.jurisdiction.city or None}
    elif name == "osdi:petitions":
        resource["target"] = [target]
        resource["end_date"] = action.closes_on
    else:
        resource["type"] = "phone" if action.type == "call" else "email"
        resource["targets"] = [{"organization": action.target.name}]
        resource["end_date"] = action.closes_on
    resource["banscan:action_type"] = action.type
    resource["banscan:jurisdiction"] = action.jurisdiction.code
    return name, {k: v for k, v in resource.items() if v not in (None, {"locality": None})}


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
        "_links": {"self": {"href": self_href}},
        "_embedded": embedded,
    }
