"""A node for the moderators' desk tests (tests/test_desk_api.py, tests/test_desk_openapi.py):
reports sealed to the test moderator key, tokens for two moderators and a publisher, and
the node's clock in the test's hands."""

from dataclasses import dataclass
from typing import Any

from node.app import create_app
from node.datadir import DataDir
from node.state import STORE
from storage.store import wall_clock_ms
from storage.tokens import Role
from tests.conftest import ClientFactory, NodeClient, bearer
from tests.test_submissions_api import add_moderator, report


class Clock:
    """The node's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = wall_clock_ms()

    def __call__(self) -> int:
        return self.now


@dataclass
class Desk:
    client: NodeClient
    clock: Clock
    alice: dict[str, str]
    bob: dict[str, str]
    publisher: dict[str, str]
    data_dir: DataDir

    async def submit(self, **fields: Any) -> tuple[str, str]:
        """Report, and return (submission id, receipt)."""
        response = await self.client.post("/api/v1/submissions", json=report(**fields))
        assert response.status == 201, await response.text()
        receipt = (await response.json())["receipt"]
        page = await self.client.app[STORE].submissions.page(limit=500)
        return page[-1][1].id, receipt

    async def post(
        self, path: str, payload: Any, who: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        response = await self.client.post(
            path, json=payload, headers=self.alice if who is None else who
        )
        return response.status, await response.json(content_type=None)

    async def get(self, path: str, who: dict[str, str] | None = None) -> tuple[int, Any]:
        response = await self.client.get(path, headers=self.alice if who is None else who)
        return response.status, await response.json(content_type=None)


async def desk_node(
    aiohttp_client: ClientFactory, data_dir: DataDir, per_client_per_hour: int = 10_000
) -> Desk:
    """A node that takes reports (sealed to MODERATOR), with tokens for two moderators
    and a publisher, and a clock the test moves."""
    clock = Clock()
    config = data_dir.load_config()
    submissions = config.submissions.model_copy(update={"per_client_per_hour": per_client_per_hour})
    app = create_app(
        config.model_copy(update={"submissions": submissions}),
        data_dir.load_key(),
        data_dir.database,
        clock=clock,
    )
    client = await aiohttp_client(app)
    store = client.app[STORE]
    await add_moderator(store.submissions)
    tokens = {
        "alice": await store.tokens.create(Role.MODERATOR, "alice"),
        "bob": await store.tokens.create(Role.ADMIN, "bob"),
        "publisher": await store.tokens.create(Role.PUBLISHER, "pub"),
    }
    return Desk(
        client,
        clock,
        bearer(tokens["alice"]),
        bearer(tokens["bob"]),
        bearer(tokens["publisher"]),
        data_dir,
    )


def sub(submission_id: str, action: str = "") -> str:
    return f"/api/v1/submissions/{submission_id}" + (f"/{action}" if action else "")
