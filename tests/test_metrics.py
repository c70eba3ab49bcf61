"""``/metrics`` parses with prometheus_client's own parser, and its figures move."""

from typing import Any

from aiohttp import ClientSession
from prometheus_client.parser import text_string_to_metric_families

from node.state import FEDERATION, STORE
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import incident_body
from tests.nodeapp import put
from tests.test_federation_http import CHAPTER, STEWARD, Start, ref
from tests.test_federation_http import start as start  # the fixture


async def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_request_counters_and_latency_move(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get("/api/v1/records/" + "0" * 64)).status == 404
    after = await scrape(client)
    route = {"method": "GET", "route": "/api/v1/records/{id}", "status": "404"}
    assert (
        value(after, "banscan_http_requests_total", **route)
        == value(before, "banscan_http_requests_total", **route) + 3
    )
    count = value(
        after,
        "banscan_http_request_duration_seconds_count",
        method="GET",
        route="/api/v1/records/{id}",
    )
    assert count >= 3
    # The path asked for never becomes a label: only the route's template does.
    assert not any("0" * 64 in str(labels) for _, labels in after)


async def test_records_by_kind_and_audience(client: NodeClient, tokens: dict[Role, str]) -> None:
    payload = {"kind": "incident", "audience": "network", "body": incident_body()}
    created = await client.post(
        "/api/v1/records", json=payload, headers=bearer(tokens[Role.PUBLISHER])
    )
    assert created.status == 201
    samples = await scrape(client)
    assert value(samples, "banscan_records", kind="incident", audience="network") == 1
    assert value(samples, "banscan_quarantine_records") == 0


async def test_sync_counters_per_peer(start: Start) -> None:
    steward, chapter = await start(STEWARD), await start(CHAPTER)
    await put(
        steward,
        "public",
        "membership",
        {"subject": CHAPTER.text, "action": "admit", "role": "chapter", "name": "Chapter"},
    )
    await put(steward, "network")
    store = chapter.app[STORE]
    peer = ref(steward)
    await store.peers.add(peer.key, peer.url, "cli", store.clock())
    held = await store.peers.get(peer.key)
    assert held is not None
    assert await chapter.app[FEDERATION].gossip.sync_with(held) is not None
    async with ClientSession(base_url=str(chapter.make_url(""))) as session:
        samples = await scrape(session)
    labels = {"peer": STEWARD.text}
    # Two sessions: public records first, then, once a member, the network audience
    # (and the membership record it received may start a round of its own at once).
    assert value(samples, "banscan_sync_sessions_total", **labels) >= 2
    assert value(samples, "banscan_sync_records_pulled_total", **labels) == 2
    assert value(samples, "banscan_sync_bytes_received_total", **labels) > 0
    assert value(samples, "banscan_peers", state="ok") == 1


async def test_metrics_answer_this_host_or_a_token_and_carry_no_created_times(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    relayed = {"X-Forwarded-For": "203.0.113.7"}  # what the proxy adds to every request

    refused = await client.get("/metrics", headers=relayed)
    with_token = await client.get("/metrics", headers={**relayed, **bearer(tokens[Role.ANALYST])})
    local = await client.get("/metrics")

    assert refused.status == 401
    assert (await refused.json())["type"] == "urn:banscan:problem:unauthorized"
    assert with_token.status == 200
    assert local.status == 200
    # A *_created series would date the first request of each kind (the first report).
    assert "_created" not in await local.text()


async def test_metrics_from_this_host_refuse_an_invalid_token(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    """The node's own host needs no token, but a token it sends must be valid (docs/api.md)."""
    for headers in (
        bearer("bst_not-a-token-of-this-node"),
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
    ):
        refused = await client.get("/metrics", headers=headers)
        assert refused.status == 401, headers
        assert refused.content_type == "application/problem+json"
        assert (await refused.json())["type"] == "urn:banscan:problem:unauthorized"
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="banscan"'
        assert "banscan_" not in await refused.text()

    for role in Role:
        assert (await client.get("/metrics", headers=bearer(tokens[role]))).status == 200
    assert (await client.get("/metrics")).status == 200
