"""The campaign kinds' API routes against a real node and SQLite: filters, overdue
requests, open actions, versions and retractions, audiences, bad parameters, OSDI."""

import datetime
from typing import Any

import pytest

from node.state import STORE
from storage.filters import QueryFilter
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import (
    action_body,
    agency_body,
    deployment_body,
    incident_body,
    policy_body,
    records_request_body,
    vendor_body,
)
from tests.test_api_import import expect_problem

TODAY = datetime.datetime.now(datetime.UTC).date()


def day(offset: int) -> str:
    return (TODAY + datetime.timedelta(days=offset)).isoformat()


class Published:
    """The records the fixture published, by name, as the API showed them."""

    def __init__(self, client: NodeClient, token: str) -> None:
        self.client, self.token, self.ids = client, token, dict[str, str]()

    async def add(self, name: str, kind: str, body: Any, audience: str = "public") -> str:
        response = await self.client.post(
            "/api/v1/records",
            json={"kind": kind, "audience": audience, "body": body},
            headers=bearer(self.token),
        )
        assert response.status == 201, await response.text()
        self.ids[name] = (await response.json())["id"]
        return self.ids[name]


@pytest.fixture
async def published(client: NodeClient, tokens: dict[Role, str]) -> Published:
    p = Published(client, tokens[Role.ADMIN])
    nypd = await p.add("nypd", "agency", agency_body())
    await p.add("mta", "agency", agency_body(name="MTA Police", type="transit"))
    await p.add("sfpd", "agency", agency_body(name="SFPD", jurisdiction={"code": "US-CA"}))
    await p.add("clearview", "vendor", vendor_body())
    ref = {"name": "NYPD", "record": nypd}
    await p.add("ban", "policy", policy_body(agency=ref))
    await p.add("unknown", "policy", policy_body(status="not_recorded", evidence=[], dates={}))
    await p.add(
        "secret", "policy", policy_body(instrument="pilot", status="proposed"), audience="network"
    )
    await p.add(
        "overdue",
        "records_request",
        records_request_body(agency=ref, filed_on=day(-60), due_on=day(-30), events=[]),
    )
    await p.add(
        "answered",
        "records_request",
        records_request_body(status="completed", filed_on=day(-60), due_on=day(-30), events=[]),
    )
    await p.add(
        "pending",
        "records_request",
        records_request_body(filed_on=day(-2), due_on=day(20), events=[]),
    )
    await p.add("open", "action", action_body(target=ref, opens_on=day(-1), closes_on=day(10)))
    await p.add("closed", "action", action_body(opens_on=day(-30), closes_on=day(-1)))
    await p.add("camera", "deployment", deployment_body(agency=ref))
    await p.add("van", "incident", incident_body(agency=ref))
    return p


async def listed(client: NodeClient, path: str, token: str | None = None, **params: str) -> Any:
    response = await client.get(path, params=params, headers=bearer(token) if token else {})
    assert response.status == 200, await response.text()
    return (await response.json())["records"]


async def ids(published: Published, path: str, **params: str) -> set[str]:
    names = {v: k for k, v in published.ids.items()}
    return {names[r["id"]] for r in await listed(published.client, path, **params)}


async def test_each_list_filters_its_kind(published: Published) -> None:
    assert await ids(published, "/api/v1/agencies") == {"nypd", "mta", "sfpd"}
    assert await ids(published, "/api/v1/agencies", type="transit") == {"mta"}
    assert await ids(published, "/api/v1/agencies", region="NY", city="New York") == {
        "nypd",
        "mta",
    }
    assert await ids(published, "/api/v1/agencies", q="SFPD") == {"sfpd"}
    assert await ids(published, "/api/v1/vendors") == {"clearview"}
    # Only public records without a token: the network's proposed pilot is not shown.
    assert await ids(published, "/api/v1/policies") == {"ban", "unknown"}
    assert await ids(published, "/api/v1/policies", status="in_force", instrument="ban") == {"ban"}
    assert await ids(published, "/api/v1/policies", agency_record=published.ids["nypd"]) == {"ban"}
    assert await ids(published, "/api/v1/policies", date_from="2019-06-01") == {"ban"}
    assert await ids(published, "/api/v1/requests", law="US-NY FOIL") == {
        "overdue",
        "answered",
        "pending",
    }
    assert await ids(published, "/api/v1/actions", type="public_comment", country="US") == {
        "open",
        "closed",
    }


async def test_overdue_requests_and_open_actions(published: Published) -> None:
    assert await ids(published, "/api/v1/requests", overdue="true") == {"overdue"}
    by_due = await listed(published.client, "/api/v1/requests")
    assert [r["body"]["due_on"] for r in by_due] == sorted(r["body"]["due_on"] for r in by_due)
    assert await ids(published, "/api/v1/requests", status="completed") == {"answered"}
    assert await ids(published, "/api/v1/actions", open_on=TODAY.isoformat()) == {"open"}
    assert await ids(published, "/api/v1/actions", open_on=day(-20)) == {"closed"}


async def test_a_token_sees_every_audience(published: Published, tokens: dict[Role, str]) -> None:
    records = await listed(
        published.client, "/api/v1/policies", tokens[Role.ANALYST], status="proposed"
    )
    assert [r["id"] for r in records] == [published.ids["secret"]]


async def test_an_agency_s_records_by_its_id(published: Published) -> None:
    queries = published.client.app[STORE].queries
    nypd = bytes.fromhex(published.ids["nypd"])
    found = {
        kind: [row.record.id.hex() for row in await queries.page(query)]
        for kind in ("deployment", "incident", "policy", "records_request", "action")
        if (query := QueryFilter(kind=kind, audiences=("public",), agency_refs=(nypd,)))
    }
    assert found == {
        "deployment": [published.ids["camera"]],
        "incident": [published.ids["van"]],
        "policy": [published.ids["ban"]],
        "records_request": [published.ids["overdue"]],
        "action": [published.ids["open"]],
    }


async def test_new_versions_and_retractions_replace_and_withdraw(published: Published) -> None:
    repealed = policy_body(status="repealed", supersedes=published.ids["ban"])
    await published.add("repealed", "policy", repealed)
    await published.add(
        "retraction", "retraction", {"target": published.ids["unknown"], "reason": "error"}
    )
    assert await ids(published, "/api/v1/policies") == {"repealed"}


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/api/v1/policies", {"status": "banned"}, "status"),
        ("/api/v1/policies", {"instrument": "law"}, "instrument"),
        ("/api/v1/agencies", {"status": "in_force"}, "status"),
        ("/api/v1/requests", {"overdue": "yes"}, "overdue"),
        ("/api/v1/requests", {"due_from": "2026-13-01"}, "due_from"),
        ("/api/v1/requests", {"sort": "occurred,due"}, "sort"),
        ("/api/v1/actions", {"agency_record": "NYPD"}, "agency_record"),
        ("/api/v1/actions", {"date_from": "2026-02-01", "date_to": "2026-01-01"}, "date_to"),
        ("/api/v1/vendors", {"bbox": "0,0,1,1"}, "bbox"),
        ("/api/v1/vendors", {"country": "XX"}, "country"),
    ],
)
async def test_bad_parameters_are_named(
    published: Published, path: str, params: dict[str, str], named: str
) -> None:
    response = await published.client.get(path, params=params)
    await expect_problem(response, 400, "bad-parameter", named)


async def test_actions_as_osdi(published: Published) -> None:
    response = await published.client.get("/api/v1/actions/osdi", params={"open_on": day(0)})
    assert response.status == 200
    assert response.content_type == "application/hal+json"
    document = await response.json()
    assert document["total_records"] == 1
    [campaign] = document["_embedded"]["osdi:advocacy_campaigns"]
    assert campaign["identifiers"] == [f"banscan:{published.ids['open']}"]
    assert campaign["browser_url"] == "https://example.org/comment"
    # advocacy_campaigns.md: targets is a human readable description; no end_date field.
    assert campaign["targets"] == "NYPD"
    assert campaign["type"] == "email"
    assert campaign["banscan:closes_on"] == day(10)
    assert "end_date" not in campaign
    assert document["_embedded"]["osdi:petitions"] == []
    assert document["_links"]["curies"][0]["name"] == "osdi"
    # Pointers only: nothing about a person.
    text = str(document).lower()
    for word in ("person", "signature", "email_address"):
        assert word not in text
