"""What waits or expires follows the node's injected clock: the report rate limits and
retention move when a test moves the clock, not when time passes."""

from typing import Any

from node.abuse import RateLimiter
from node.api.submissions import MODERATION
from node.app import create_app
from node.datadir import DataDir
from node.moderation.retention import Retention
from node.state import STORE
from tests.conftest import ClientFactory, NodeClient
from tests.test_submissions_api import add_moderator, report

T0 = 29_833_333 * 60_000  # on a minute: the limiter keeps attempts to the minute
HOUR_MS = 3_600_000


async def node_at(aiohttp_client: ClientFactory, data_dir: DataDir, now: list[int]) -> NodeClient:
    app = create_app(
        data_dir.load_config(), data_dir.load_key(), data_dir.database, clock=lambda: now[0]
    )
    client = await aiohttp_client(app)
    await add_moderator(client.app[STORE].submissions)
    return client


async def test_the_report_limit_slides_with_the_node_clock(
    aiohttp_client: ClientFactory, data_dir: DataDir
) -> None:
    now = [T0]
    client = await node_at(aiohttp_client, data_dir, now)
    per_client = data_dir.load_config().submissions.per_client_per_hour

    async def send() -> Any:
        return await client.post("/api/v1/submissions", json=report())

    for _ in range(per_client):
        assert (await send()).status == 201
    refused = await send()
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "3600"  # the clock has not moved
    now[0] += HOUR_MS - 60_000
    refused = await send()
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "60"
    now[0] += 60_000  # an hour on the node's clock, a moment on the wall's
    assert (await send()).status == 201


async def test_retention_purges_when_the_node_clock_says_so(
    aiohttp_client: ClientFactory, data_dir: DataDir
) -> None:
    now = [T0]
    client = await node_at(aiohttp_client, data_dir, now)
    store, moderation = client.app[STORE], client.app[MODERATION]
    limiter = RateLimiter(5, 100, clock=lambda: now[0])
    retention = Retention(
        moderation,
        store.submissions,
        retention_days=0,  # every decided submission is past retention at once
        limiters=[limiter],
        clock=lambda: now[0],
    )

    async def decided() -> str:
        assert (await client.post("/api/v1/submissions", json=report())).status == 201
        pending = [s.id for _, s in await store.submissions.page() if s.status == "pending"]
        rejected, _ = await moderation.reject(pending, "spam", actor="test")
        return rejected[0]

    first = await decided()
    now[0] += 1
    assert await retention.tick() == [first]  # the first tick purges
    now[0] += HOUR_MS // 2
    limiter.check("198.51.100.7")
    second = await decided()
    now[0] += HOUR_MS // 2 - 1
    # Past retention, but the next purge is not due on the node's clock.
    assert await retention.tick() == []
    held = await store.submissions.get(second)
    assert held is not None
    assert held.sealed is not None
    now[0] += 1
    assert await retention.tick() == [second]
    held = await store.submissions.get(second)
    assert held is not None
    assert held.sealed is None
    assert limiter.clients == 1
    now[0] += HOUR_MS // 2
    assert await retention.tick() == []
    assert limiter.clients == 0  # each tick sweeps the limiters: an hour-old client is gone
