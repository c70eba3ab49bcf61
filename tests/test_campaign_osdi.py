"""GET /api/v1/actions/osdi against the OSDI documents' field tables: each resource holds
only fields its OSDI resource defines (or ``banscan:`` ones), with OSDI's types."""

from typing import Any, Final

from storage.tokens import Role
from tests.conftest import NodeClient
from tests.factories import action_body
from tests.test_campaign_api import Published, day

# The common fields (global_fields.md) and each resource's own (events.md,
# petitions.md, advocacy_campaigns.md, opensupporter/osdi-docs) that an action can fill.
COMMON: Final = {
    "identifiers",
    "origin_system",
    "created_date",
    "modified_date",
    "name",
    "title",
    "description",
    "summary",
    "browser_url",
}
FIELDS: Final = {
    "osdi:events": COMMON
    | {"type", "status", "visibility", "all_day", "all_day_date", "start_date", "end_date"}
    | {"location", "instructions", "capacity"},
    "osdi:petitions": COMMON | {"target", "petition_text"},
    "osdi:advocacy_campaigns": COMMON | {"type", "targets"},
}
LOCATION: Final = {"venue", "address_lines", "locality", "region", "postal_code", "country"}


def _check(collection: str, resource: dict[str, Any]) -> None:
    own = {k for k in resource if not k.startswith("banscan:")}
    assert own <= FIELDS[collection], own - FIELDS[collection]
    assert all(isinstance(v, str) for v in resource["identifiers"])


async def test_each_action_type_has_its_osdi_shape(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    p = Published(client, tokens[Role.ADMIN])
    madrid = {"code": "ES-MD", "city": "Madrid"}
    await p.add(
        "petition",
        "action",
        action_body(type="petition", title="Sign", jurisdiction=madrid, closes_on=day(5)),
    )
    await p.add(
        "hearing",
        "action",
        action_body(
            type="hearing", title="Speak", jurisdiction=madrid, opens_on=day(3), closes_on=day(3)
        ),
    )
    await p.add("call", "action", action_body(type="call", title="Call", closes_on=day(9)))
    response = await client.get("/api/v1/actions/osdi")
    assert response.status == 200
    document = await response.json()
    assert document["total_records"] == 3
    embedded = document["_embedded"]
    for collection, resources in embedded.items():
        for resource in resources:
            _check(collection, resource)

    [petition] = embedded["osdi:petitions"]
    assert petition["target"] == [{"name": "NYPD"}]
    assert petition["banscan:closes_on"] == day(5)

    [hearing] = embedded["osdi:events"]
    # Dates without a time of day: an all-day event, not start_date/end_date datetimes.
    assert (hearing["all_day"], hearing["all_day_date"]) == (True, day(3))
    assert "start_date" not in hearing
    assert (hearing["type"], hearing["status"], hearing["visibility"]) == (
        "open",
        "confirmed",
        "public",
    )
    assert hearing["location"] == {"locality": "Madrid", "region": "MD", "country": "ES"}
    assert set(hearing["location"]) <= LOCATION

    [call] = embedded["osdi:advocacy_campaigns"]
    assert (call["type"], call["targets"]) == ("phone", "NYPD")
    assert document["_links"]["curies"] == [
        {
            "name": "osdi",
            "href": "https://opensupporter.github.io/osdi-docs/{rel}.html",
            "templated": True,
        }
    ]
