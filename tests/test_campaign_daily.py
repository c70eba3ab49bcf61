"""Answers that change with the day are not kept past midnight (UTC): the API's records
requests list, asked for the overdue ones, on a node whose clock the test moves."""

import datetime

from node.app import create_app
from node.datadir import DataDir
from node.state import STORE
from storage.tokens import Role
from tests.conftest import ClientFactory, bearer
from tests.factories import records_request_body


def ms(moment: str) -> int:
    return int(datetime.datetime.fromisoformat(moment).timestamp() * 1000)


async def test_overdue_requests_are_asked_again_on_a_new_day(
    aiohttp_client: ClientFactory, data_dir: DataDir
) -> None:
    now = [ms("2026-03-10T23:59:58+00:00")]
    app = create_app(
        data_dir.load_config(), data_dir.load_key(), data_dir.database, clock=lambda: now[0]
    )
    client = await aiohttp_client(app)
    token = await client.app[STORE].tokens.create(Role.ADMIN, "test")
    body = records_request_body(due_on="2026-03-10", status="acknowledged")
    published = await client.post(
        "/api/v1/records",
        json={"kind": "records_request", "audience": "public", "body": body},
        headers=bearer(token),
    )
    assert published.status == 201, await published.text()

    async def overdue() -> tuple[list[str], str]:
        answer = await client.get("/api/v1/requests?overdue=true")
        assert answer.status == 200
        records = (await answer.json())["records"]
        return [r["body"]["due_on"] for r in records], answer.headers["ETag"]

    # Due today: not overdue yet; the second ask is the kept answer (the same ETag).
    first, etag = await overdue()
    assert first == []
    now[0] += 1_000
    assert await overdue() == ([], etag)
    # Two seconds later it is the 11th: the database did not change, the answer did.
    now[0] += 2_000
    after, later_etag = await overdue()
    assert after == ["2026-03-10"]
    assert later_etag != etag
