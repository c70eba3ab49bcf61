"""Anonymous reads: validators and 304s, private answers with a token, and the read gate.

Each test runs a real node app on 127.0.0.1 over a real SQLite file and talks to
it over HTTP, as a browser, a caching proxy or a crowd of readers would.
"""

import asyncio
import email.utils
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from node.app import create_app
from node.config import ReadsSection
from node.datadir import DataDir
from node.readcache import AnswerCache
from node.reads import READS
from node.state import STORE
from storage.tokens import Role
from tests.conftest import ClientFactory, NodeClient, bearer
from tests.factories import incident_body

RECORDS = "/api/v1/records"
START_MS = 1_800_000_000_000


class Clock:
    def __init__(self) -> None:
        self.ms = START_MS

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def clock() -> Clock:
    return Clock()


def node_app(data_dir: DataDir, clock: Callable[[], int], **reads: Any) -> web.Application:
    config = data_dir.load_config()
    config = config.model_copy(update={"reads": ReadsSection(**reads)})
    return create_app(config, data_dir.load_key(), data_dir.database, clock=clock)


async def started(
    aiohttp_client: ClientFactory, data_dir: DataDir, clock: Clock, **reads: Any
) -> tuple[NodeClient, str]:
    client = await aiohttp_client(node_app(data_dir, clock, **reads))
    token = await client.app[STORE].tokens.create(Role.PUBLISHER, "test publisher")
    return client, token


async def publish(client: NodeClient, token: str, summary: str = "seen") -> str:
    body = {**incident_body(), "summary": summary}
    response = await client.post(
        RECORDS,
        json={"kind": "incident", "audience": "public", "body": body},
        headers=bearer(token),
    )
    assert response.status == 201, await response.text()
    record_id: str = (await response.json())["id"]
    return record_id


async def test_anonymous_answers_carry_validators_and_answer_304(
    aiohttp_client: ClientFactory, data_dir: DataDir, clock: Clock
) -> None:
    client, token = await started(aiohttp_client, data_dir, clock)
    first = await publish(client, token, "first")
    answer = await client.get(RECORDS, params={"limit": "100"})
    assert answer.status == 200
    etag = answer.headers["ETag"]
    assert answer.headers["Cache-Control"] == "public, max-age=1"
    assert answer.headers["Vary"] == "Authorization"
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    assert [r["id"] for r in (await answer.json())["records"]] == [first]
    email.utils.parsedate_to_datetime(answer.headers["Last-Modified"])

    again = await client.get(RECORDS, params={"limit": "100"}, headers={"If-None-Match": etag})
    assert again.status == 304
    assert await again.read() == b""
    assert again.headers["ETag"] == etag
    listed = await client.get(RECORDS, params={"limit": "100"}, headers={"If-None-Match": "*"})
    assert listed.status == 304

    second = await publish(client, token, "second")
    changed = await client.get(RECORDS, params={"limit": "100"}, headers={"If-None-Match": etag})
    assert changed.status == 200
    assert changed.headers["ETag"] != etag
    assert [r["id"] for r in (await changed.json())["records"]] == [first, second]

    one = await client.get(f"{RECORDS}/{second}")
    assert one.status == 200
    tag = one.headers["ETag"]
    assert (await client.get(f"{RECORDS}/{second}", headers={"If-None-Match": tag})).status == 304
    head = await client.head(f"{RECORDS}/{second}", headers={"If-None-Match": tag})
    assert head.status == 304


async def test_if_modified_since_is_never_answered_304_wrongly(
    aiohttp_client: ClientFactory, data_dir: DataDir, clock: Clock
) -> None:
    client, token = await started(aiohttp_client, data_dir, clock)
    await publish(client, token, "first")
    clock.ms += 2_000
    answer = await client.get("/api/v1/stats")
    modified = answer.headers["Last-Modified"]
    assert email.utils.parsedate_to_datetime(modified).timestamp() == (START_MS + 2_000) / 1000
    assert (
        await client.get("/api/v1/stats", headers={"If-Modified-Since": modified})
    ).status == 304
    earlier = email.utils.formatdate((START_MS + 1_000) / 1000, usegmt=True)
    assert (await client.get("/api/v1/stats", headers={"If-Modified-Since": earlier})).status == 200

    # A change within the same second as the copy the client holds: Last-Modified
    # alone cannot tell the two apart, so the node sends the whole answer.
    clock.ms += 300
    await publish(client, token, "second")
    changed = await client.get("/api/v1/stats", headers={"If-Modified-Since": modified})
    assert changed.status == 200
    assert (await changed.json())["total"]["count"] == 2
    for bad in ("yesterday", "Tue, 99 Foo 2026 25:00:00 GMT", ""):
        refused = await client.get("/api/v1/stats", headers={"If-Modified-Since": bad})
        assert refused.status == 200


async def test_answers_with_a_token_are_private_and_never_shared(
    aiohttp_client: ClientFactory, data_dir: DataDir, clock: Clock
) -> None:
    client, token = await started(aiohttp_client, data_dir, clock)
    await publish(client, token)
    for path in (RECORDS, "/api/v1/incidents", "/api/v1/stats", "/api/v1/coverage"):
        private = await client.get(path, headers=bearer(token))
        assert private.status == 200
        assert private.headers["Cache-Control"] == "private, no-store"
        assert private.headers["Vary"] == "Authorization"
        assert "ETag" not in private.headers
        public = await client.get(path)
        assert public.headers["Cache-Control"] == "public, max-age=1"
    export = await client.get(
        "/api/v1/export", params={"format": "csv", "kind": "incident"}, headers=bearer(token)
    )
    assert export.headers["Cache-Control"] == "private, no-store"
    assert export.headers["Vary"] == "Authorization"


async def test_bad_parameters_are_still_problems_and_not_cached(
    aiohttp_client: ClientFactory, data_dir: DataDir, clock: Clock
) -> None:
    client, _ = await started(aiohttp_client, data_dir, clock)
    for _ in range(2):
        answer = await client.get(RECORDS, params={"cursor": "not-a-cursor"})
        assert answer.status == 400
        assert answer.content_type == "application/problem+json"
        assert "ETag" not in answer.headers


async def test_a_full_read_queue_answers_503_and_never_holds_up_writes(
    aiohttp_client: ClientFactory, data_dir: DataDir, clock: Clock
) -> None:
    client, token = await started(
        aiohttp_client, data_dir, clock, anonymous_concurrency=1, anonymous_queue=1
    )
    gate = client.app[READS].gate
    async with gate.admitted():  # the one anonymous read being served
        waiting = asyncio.create_task(client.get("/api/v1/deployments"))
        for _ in range(100):
            if gate.busy:
                break
            await asyncio.sleep(0.01)
        assert gate.busy
        refused = await client.get("/api/v1/incidents")
        assert refused.status == 503
        assert refused.headers["Retry-After"] == "1"
        assert refused.content_type == "application/problem+json"
        assert (await refused.json())["type"] == "urn:banscan:problem:busy"
        export = await client.get("/api/v1/export", params={"format": "csv", "kind": "incident"})
        assert export.status == 503
        # Writes and requests with a token do not wait at the readers' gate.
        await asyncio.wait_for(publish(client, token), timeout=10)
        private = await client.get(RECORDS, headers=bearer(token))
        assert private.status == 200
        assert not waiting.done()
    served = await asyncio.wait_for(waiting, timeout=10)
    assert served.status == 200
    assert (await client.get("/api/v1/incidents")).status == 200


async def queued(client: NodeClient, count: int, path: str) -> list[asyncio.Task[Any]]:
    """``count`` anonymous reads of ``path``, all waiting at the gate (held by the test)."""
    gate = client.app[READS].gate
    tasks = [asyncio.create_task(client.get(path)) for _ in range(count)]
    for _ in range(200):
        if gate.waiting == count:
            return tasks
        await asyncio.sleep(0.01)
    raise AssertionError("the reads did not queue")


async def test_a_busy_node_serves_recent_cached_bytes_and_a_quiet_one_current_data(
    aiohttp_client: ClientFactory, data_dir: DataDir, clock: Clock
) -> None:
    client, token = await started(
        aiohttp_client, data_dir, clock, anonymous_concurrency=1, anonymous_queue=8
    )
    await publish(client, token, "first")
    assert len((await (await client.get(RECORDS)).json())["records"]) == 1
    await publish(client, token, "second")
    gate = client.app[READS].gate
    async with gate.admitted():
        reads = await queued(client, 3, RECORDS)
    # Each read that had others queued behind it got the cached answer, less than
    # max_age_s old; the last, with none behind it, asked the database.
    counts = [len((await (await r).json())["records"]) for r in reads]
    assert sorted(counts) == [1, 1, 2]

    await publish(client, token, "third")
    clock.ms += 1_000  # the cached answer is now as old as max_age_s allows
    async with gate.admitted():
        reads = await queued(client, 3, RECORDS)
    assert [len((await (await r).json())["records"]) for r in reads] == [3, 3, 3]


async def test_a_write_in_progress_lets_one_anonymous_read_through_at_a_time(
    aiohttp_client: ClientFactory, data_dir: DataDir, clock: Clock
) -> None:
    client, token = await started(
        aiohttp_client, data_dir, clock, anonymous_concurrency=4, anonymous_queue=8
    )
    gate = client.app[READS].gate
    async with gate.priority():  # as a publisher's request does while it is handled
        async with gate.admitted():
            reads = await queued(client, 2, "/api/v1/incidents")
        served = [await r for r in reads]
    assert [r.status for r in served] == [200, 200]
    await publish(client, token)
    async with gate.admitted(), gate.admitted(), gate.admitted():
        # Without a write in progress, a fourth read is let through at once.
        assert (await client.get("/api/v1/incidents")).status == 200


async def test_the_answer_cache_stays_within_its_bytes_whatever_the_queries(
    aiohttp_client: ClientFactory, data_dir: DataDir, clock: Clock
) -> None:
    client, token = await started(aiohttp_client, data_dir, clock, cache_entries=100_000)
    await publish(client, token)
    size = len(await (await client.get(RECORDS)).read())
    reads = client.app[READS]
    reads.cache = AnswerCache(100_000, START_MS, max_bytes=10 * size)
    for since in range(60):  # queries that differ only in a parameter
        answer = await client.get(RECORDS, params={"since": str(since)})
        assert answer.status == 200
        assert reads.cache.size_bytes <= 10 * size
    assert reads.cache.size_bytes >= 8 * size
