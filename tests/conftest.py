"""Shared fixtures: a real node app over a real SQLite file, and tokens for each role."""

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from node.app import create_app
from node.datadir import DataDir
from node.state import STORE
from storage.store import Store
from storage.tokens import Role
from tests.factories import STEWARD, admit

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
NodeClient = TestClient[web.Request, web.Application]


@pytest.fixture
def data_dir(tmp_path: Path) -> DataDir:
    """A node that is its own steward, and that also trusts the test steward, whose
    membership records admit the keys tests sign with (``tests.factories.admit``)."""
    directory = DataDir(tmp_path / "node")
    key = directory.init("banthescan", [])
    with_stewards(directory, key.text, STEWARD.text)
    return directory


def with_stewards(directory: DataDir, *stewards: str) -> None:
    """Set ``[network] stewards`` in the config ``banscan init`` wrote."""
    text = directory.config_file.read_text(encoding="utf-8")
    listed = ", ".join(f'"{steward}"' for steward in stewards)
    assert "\nstewards = []\n" in text
    directory.config_file.write_text(
        text.replace("\nstewards = []\n", f"\nstewards = [{listed}]\n"), encoding="utf-8"
    )


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


def admit_in(directory: Path, *subjects: bytes) -> None:
    """Admit ``subjects`` in a stopped node's data directory, by membership records signed
    with the node's own key (a node with no stewards configured is its own steward)."""

    async def run() -> None:
        key = DataDir(directory).load_key()
        store = await Store.open(DataDir(directory).database, stewards=frozenset({key.public_key}))
        try:
            await admit(store, *subjects, steward=key)
        finally:
            await store.close()

    asyncio.run(run())
