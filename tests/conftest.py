"""Shared fixtures: a store over a real SQLite file, a real node app over one, and tokens
for each role; opening a stopped node's store from its data directory; and one
Chromium per test worker for the browser tests.

The ``store`` fixture's clock and stewards are fixtures too: a module that needs a
fixed time or other stewards overrides ``store_clock`` or ``stewards``, and one that
needs more in the store (members, records) overrides ``store`` by asking for it.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import settings

from node.app import create_app
from node.datadir import DataDir, open_node_store
from node.state import STORE
from storage.store import Store, wall_clock_ms
from storage.tokens import Role
from tests.factories import STEWARD, admit

if TYPE_CHECKING:
    from playwright import async_api

# No example database: tests run in parallel workers, which would race on one
# .hypothesis directory, and failing examples are printed in the test's report anyway.
settings.register_profile("banscan", database=None)
settings.load_profile("banscan")

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
NodeClient = TestClient[web.Request, web.Application]


@pytest.fixture
def store_clock() -> Callable[[], int]:
    """The ``store`` fixture's clock, in milliseconds."""
    return wall_clock_ms


@pytest.fixture
def stewards() -> frozenset[bytes]:
    """The ``store`` fixture's stewards: the test steward (``tests.factories.STEWARD``)."""
    return frozenset({STEWARD.public_key})


@pytest.fixture
async def store(
    tmp_path: Path, store_clock: Callable[[], int], stewards: frozenset[bytes]
) -> AsyncIterator[Store]:
    """A store over a new SQLite file in ``tmp_path``."""
    opened = await Store.open(tmp_path / "banscan.db", clock=store_clock, stewards=stewards)
    yield opened
    await opened.close()


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


@asynccontextmanager
async def node_store(directory: Path) -> AsyncIterator[Store]:
    """The store of a stopped node, opened as the node opens it (its configured stewards,
    or its own key when it has none; its durability and quarantine bound)."""
    data_dir = DataDir(directory)
    key = data_dir.load_key()
    store = await open_node_store(data_dir.database, data_dir.load_config(), key.public_key)
    try:
        yield store
    finally:
        await store.close()


def admit_in(directory: Path, *subjects: bytes) -> None:
    """Admit ``subjects`` in a stopped node's data directory, by membership records signed
    with the node's own key (a node with no stewards configured is its own steward)."""

    async def run() -> None:
        async with node_store(directory) as store:
            await admit(store, *subjects, steward=DataDir(directory).load_key())

    asyncio.run(run())


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator["async_api.Browser"]:
    """One headless Chromium for all the browser tests a worker runs: starting Playwright
    and Chromium took 1.5 to 3 s a test. Each visit still has a fresh context (no
    cookies, no cache; :func:`tests.browser.visit`). A test module that takes it runs
    in the session's event loop: ``pytestmark = pytest.mark.asyncio(loop_scope="session")``."""
    # Imported here: tests/browser.py fails a CI run that has no chromium, which must
    # fail the browser tests, not every test.
    from tests.browser import open_browser

    async with open_browser() as opened:
        yield opened


@pytest_asyncio.fixture(loop_scope="session")
async def session_server() -> AsyncIterator[ServerFactory]:
    """``aiohttp_server`` for a test in the session's event loop (one that takes
    ``browser``): each app served on 127.0.0.1, port 0, closed after the test."""
    servers: list[TestServer] = []

    async def serve(app: web.Application) -> TestServer:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return server

    yield serve
    for server in reversed(servers):
        await server.close()
