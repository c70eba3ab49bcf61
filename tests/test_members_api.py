"""Trust through the HTTP API of a real node: import outcomes, revocation and steward
retraction as readers of incidents and exports see them."""

import json
from typing import Any

from node.state import NODE_KEY, STORE
from protocol.records import SignedRecord
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import STEWARD, feed, incident_body, membership, seeded_key, signed
from tests.test_api_import import expect_problem, import_batch

CHAPTER = seeded_key("api members chapter")
T0 = 1_760_000_000_000


def decision(seq: int, action: str, created_ms: int, **fields: Any) -> SignedRecord:
    """The test steward's membership record ``seq`` about CHAPTER, at ``created_ms``."""
    body = membership(CHAPTER.public_key, action, **fields)
    return signed(STEWARD, seq, kind="membership", body=body, created_ms=created_ms - seq)


def incident(seq: int, created_ms: int, summary: str) -> SignedRecord:
    return signed(CHAPTER, seq, body=incident_body(summary=summary), created_ms=created_ms - seq)


async def incident_ids(client: NodeClient) -> set[str]:
    response = await client.get("/api/v1/incidents", params={"limit": "500"})
    assert response.status == 200, await response.text()
    return {r["id"] for r in (await response.json())["records"]}


async def exported_ids(client: NodeClient) -> set[str]:
    response = await client.get("/api/v1/export", params={"format": "ndjson", "kind": "incident"})
    assert response.status == 200, await response.text()
    return {json.loads(line)["id"] for line in (await response.text()).splitlines() if line}


async def test_import_reports_quarantined_then_the_admission_stores_them(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    records = feed(CHAPTER, 2)
    response = await import_batch(client, tokens[Role.PUBLISHER], records, admit_origins=False)
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert (answer["quarantined"], answer["accepted"], answer["rejected"]) == (2, 0, 0)
    assert [r["outcome"] for r in answer["results"]] == ["quarantined", "quarantined"]
    assert await incident_ids(client) == set()

    admitted = await import_batch(
        client, tokens[Role.PUBLISHER], [decision(1, "admit", T0)], admit_origins=False
    )
    assert (await admitted.json())["accepted"] == 1
    assert await incident_ids(client) == {r.id.hex() for r in records}


async def test_a_revoked_keys_records_vanish_from_incidents_and_exports(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    token = tokens[Role.PUBLISHER]
    before = incident(1, T0 + 10, "Reported before the key was stolen.")
    since = incident(2, T0 + 200, "Planted with the stolen key.")
    imported = await import_batch(
        client, token, [decision(1, "admit", T0), before, since], admit_origins=False
    )
    assert imported.status == 200, await imported.text()
    assert await incident_ids(client) == {before.id.hex(), since.id.hex()}

    revoke = decision(2, "revoke", T0 + 500, compromised_since_ms=T0 + 100)
    assert (await import_batch(client, token, [revoke], admit_origins=False)).status == 200

    assert await incident_ids(client) == {before.id.hex()}
    assert await exported_ids(client) == {before.id.hex()}
    held = await client.get(f"/api/v1/records/{since.id.hex()}")
    assert (await held.json())["signed"]["body"] is None

    later = incident(3, T0 + 600, "Sent after the revocation.")
    refused = await import_batch(client, token, [later], admit_origins=False)
    await expect_problem(refused, 403, "origin-revoked", "compromised")


async def test_a_suspended_keys_new_records_are_refused(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    token = tokens[Role.PUBLISHER]
    batch = [decision(1, "admit", T0), decision(2, "suspend", T0 + 100)]
    assert (await import_batch(client, token, batch, admit_origins=False)).status == 200
    refused = await import_batch(
        client, token, [incident(1, T0 + 100, "After.")], admit_origins=False
    )
    await expect_problem(refused, 403, "origin-suspended", "suspended")
    accepted = await import_batch(
        client, token, [incident(1, T0 + 99, "Before.")], admit_origins=False
    )
    assert (await accepted.json())["accepted"] == 1


async def test_the_node_as_steward_retracts_another_origins_record(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    target = incident(1, T0 + 10, "A report to withdraw.")
    response = await import_batch(client, tokens[Role.PUBLISHER], [target])
    assert response.status == 200, await response.text()
    assert client.app[NODE_KEY].public_key in client.app[STORE].trust.stewards

    retraction = {
        "kind": "retraction",
        "audience": "public",
        "body": {"target": target.id.hex(), "reason": "safety"},
    }
    # Only an admin token carries the steward's power over another chapter's record.
    refused = await client.post(
        "/api/v1/records", json=retraction, headers=bearer(tokens[Role.PUBLISHER])
    )
    assert refused.status == 403, await refused.text()
    assert await incident_ids(client) == {target.id.hex()}
    published = await client.post(
        "/api/v1/records", json=retraction, headers=bearer(tokens[Role.ADMIN])
    )
    assert published.status == 201, await published.text()
    assert await incident_ids(client) == set()
    assert await exported_ids(client) == set()
