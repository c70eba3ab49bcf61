"""GET /api/v1/stats/campaign against a real node: its counts equal those of a scan of
the campaign lists' bodies, for the public and for a token, after a new version and
a retraction."""

import datetime
from collections import Counter
from typing import Any

from protocol.campaign import ANSWERED_STATUSES
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import policy_body
from tests.test_api_import import expect_problem
from tests.test_campaign_api import TODAY, Published, listed, published  # noqa: F401

PLURALS = {
    "agencies": "agencies",
    "vendors": "vendors",
    "policies": "policies",
    "requests": "requests",
    "actions": "actions",
}


def _country(code: str) -> str:
    return code.split("-")[0]


def _scanned(section: str, bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """The counts of ``section`` worked out from the bodies themselves."""
    today = TODAY.isoformat()
    if section == "agencies":
        return {
            "total": len(bodies),
            "by_type": Counter(b["type"] for b in bodies),
            "by_country": Counter(_country(b["jurisdiction"]["code"]) for b in bodies),
        }
    if section == "vendors":
        return {"total": len(bodies)}
    if section == "policies":
        return {
            "total": len(bodies),
            "by_status": Counter(b["status"] for b in bodies),
            "by_instrument": Counter(b["instrument"] for b in bodies),
            "by_country": Counter(_country(b["jurisdiction"]["code"]) for b in bodies),
        }
    if section == "requests":
        return {
            "total": len(bodies),
            "by_status": Counter(b["status"] for b in bodies),
            "by_law": Counter(b["law"] for b in bodies),
            "by_country": Counter(_country(b["law"].split(" ")[0]) for b in bodies),
            "overdue": sum(
                1
                for b in bodies
                if b.get("due_on") and b["due_on"] < today and b["status"] not in ANSWERED_STATUSES
            ),
        }
    return {
        "total": len(bodies),
        "by_type": Counter(b["type"] for b in bodies),
        "by_country": Counter(_country(b["jurisdiction"]["code"]) for b in bodies),
        "open": sum(
            1
            for b in bodies
            if b.get("opens_on", today) <= today and b.get("closes_on", today) >= today
        ),
    }


async def _compare(client: NodeClient, token: str | None) -> dict[str, Any]:
    headers = bearer(token) if token else {}
    response = await client.get("/api/v1/stats/campaign", headers=headers)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    assert answer["today"] == TODAY.isoformat()
    for section, plural in PLURALS.items():
        records = await listed(client, f"/api/v1/{plural}", token, limit="500")
        expected = _scanned(section, [r["body"] for r in records])
        got = answer[section]
        assert got == {k: dict(v) if isinstance(v, Counter) else v for k, v in expected.items()}
    return answer


async def test_campaign_stats_equal_a_scan(
    published: Published,  # noqa: F811
    tokens: dict[Role, str],
) -> None:
    public = await _compare(published.client, None)
    assert public["audiences"] == ["public"]
    assert public["policies"]["by_status"] == {"in_force": 1, "not_recorded": 1}
    assert public["requests"]["overdue"] == 1
    assert public["actions"]["open"] == 1
    everyone = await _compare(published.client, tokens[Role.ANALYST])
    assert everyone["policies"]["by_status"]["proposed"] == 1
    # A new version replaces the old in the counts; a retracted record leaves them.
    repealed = policy_body(status="repealed", supersedes=published.ids["ban"])
    await published.add("repealed", "policy", repealed)
    await published.add(
        "retraction", "retraction", {"target": published.ids["unknown"], "reason": "error"}
    )
    after = await _compare(published.client, None)
    assert after["policies"]["by_status"] == {"repealed": 1}
    assert after["policies"]["total"] == 1


async def test_campaign_stats_take_no_parameters(client: NodeClient) -> None:
    response = await client.get("/api/v1/stats/campaign", params={"kind": "policy"})
    await expect_problem(response, 400, "bad-parameter")
    empty = await (await client.get("/api/v1/stats/campaign")).json()
    assert empty["requests"] == {
        "total": 0,
        "by_status": {},
        "by_law": {},
        "by_country": {},
        "overdue": 0,
    }
    assert datetime.date.fromisoformat(empty["today"]) == TODAY
