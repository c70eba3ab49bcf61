"""The two-stage ingest seen through the API (node/indexwait.py): an import is read back
at once, while records wait the answers say how many, and /api/v1/node says where the
index stands."""

from node.indexwait import PENDING_HEADER
from node.state import STORE
from storage.tokens import Role
from tests.conftest import NodeClient
from tests.factories import feed, seeded_key
from tests.test_api_import import import_batch


async def test_an_import_is_read_back_at_once_and_a_backlog_is_said(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    indexer = client.app[STORE].records.indexer
    key = seeded_key("two stages")
    first, second = feed(key, 30)[:10], feed(key, 30)[10:]
    # Read-your-writes: the stats count the batch as soon as it is acknowledged.
    assert (await import_batch(client, tokens[Role.PUBLISHER], first)).status == 200
    stats = await client.get("/api/v1/stats", params={"origin": key.text})
    assert (await stats.json())["total"]["count"] == 10
    assert PENDING_HEADER not in stats.headers

    # A backlog of more than one step is not waited for: the answer says it.
    await indexer.stop()
    indexer.chunk = 5
    assert (await import_batch(client, tokens[Role.PUBLISHER], second)).status == 200
    stats = await client.get("/api/v1/stats", params={"origin": key.text})
    assert (await stats.json())["total"]["count"] == 10
    assert stats.headers[PENDING_HEADER] == "20"
    node = await (await client.get("/api/v1/node")).json()
    assert node["index"] == {"pending": 20, "set_aside": 0, "logged": 30, "indexed": 10}
    # A record by id is served from the log before it is indexed.
    one = await client.get(f"/api/v1/records/{second[5].id.hex()}")
    assert one.status == 200
    assert (await one.json())["id"] == second[5].id.hex()

    await indexer.start()
    assert await indexer.caught_up(10)
    stats = await client.get("/api/v1/stats", params={"origin": key.text})
    assert (await stats.json())["total"]["count"] == 30
    assert PENDING_HEADER not in stats.headers
    node = await (await client.get("/api/v1/node")).json()
    assert node["index"] == {"pending": 0, "set_aside": 0, "logged": 30, "indexed": 30}
