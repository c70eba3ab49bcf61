"""Shared fixtures: a real node app over a real SQLite file, and tokens for each role."""

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from node.app import create_app
from node.datadir import DataDir
from node.state import STORE
from storage.tokens import Role

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
NodeClient = TestClient[web.Request, web.Application]


@pytest.fixture
def data_dir(tmp_path: Path) -> DataDir:
    directory = DataDir(tmp_path / "node")
    directory.init("banthescan", [])
    return directory


@pytest.fixture
def app(data_dir: DataDir) -> web.Application:
    return create_app(data_dir.load_config(), data_dir.load_key(), data_dir.database)


@pytest.fixture
async def client(aiohttp_client: ClientFactory, app: web.Application) -> NodeClient:
    return await aiohttp_client(app)


@pytest.fixture
async def tokens(client: NodeClient) -> dict[Role, str]:
    """A token for every role, created in the running node's store."""
    store = client.app[STORE]
    return {role: await store.tokens.create(role, f"test {role.value}") for role in Role}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
