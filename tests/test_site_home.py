"""The home page on a real node: empty, then with records and chapters; its numbers, the API's."""

import datetime
import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from node.app import create_app
from node.cli.devnet.demo import demo_records
from node.config import Config
from node.datadir import DataDir
from node.state import STORE
from protocol.limits import DEFAULT_LIMITS
from protocol.records import verify_record
from protocol.sealing import ModeratorKey
from storage.classify import Outcome
from tests.conftest import ClientFactory, NodeClient
from tests.factories import NETWORK, admit, seeded_key, signed
from tests.nodeapp import put

TODAY = datetime.date(2026, 12, 7)
MADRID = seeded_key("madrid chapter")


def numbers(page: str) -> list[str]:
    return re.findall(r'<span class="number(?: number-date)?">([^<]+)</span>', page)


async def publish_demo(server: TestServer, number: int = 1) -> None:
    """Node ``number``'s demo records (``banscan dev-network``), published as this node."""
    for kind, body in demo_records(number, TODAY):
        await put(server, "public", kind, body)


async def add_madrid_chapter(server: TestServer) -> None:
    """A second chapter, admitted by the test steward, with its own node record."""
    store = server.app[STORE]
    await admit(store, MADRID.public_key)
    info = {
        "urls": ["https://madrid.example.org"],
        "name": "Ban the Scan Madrid",
        "city": "Madrid",
        "country": "ES",
    }
    record = verify_record(
        signed(MADRID, 1, kind="node", body=info), network_id=NETWORK, limits=DEFAULT_LIMITS
    )
    results = await store.records.ingest([record])
    assert results[0].outcome is Outcome.ACCEPTED


def app_with(data_dir: DataDir, **sections: dict[str, Any]) -> web.Application:
    """A node app whose config has ``sections`` changed."""
    config = data_dir.load_config()
    tree = config.model_dump(mode="json")
    for name, values in sections.items():
        tree[name].update(values)
    return create_app(Config.model_validate(tree), data_dir.load_key(), data_dir.database)


async def test_an_empty_node_says_what_its_operator_does_next(client: NodeClient) -> None:
    answer = await client.get("/?lang=en")
    assert answer.status == 200
    page = await answer.text()
    assert "This site has nothing to show yet" in page
    assert "banscan moderators add" in page  # no moderator key yet: the form is closed
    assert "<code>[site] name</code>" in page
    assert numbers(page) == []
    assert 'href="/report?lang=en"' in page
    assert "Demo data" not in page

    # A moderator key opens the report form: that step is no longer asked for.
    key = ModeratorKey.generate().public
    await client.app[STORE].submissions.add_key(key.key_id, key.text, "test", actor="test")
    page = await (await client.get("/?lang=es")).text()
    assert "Este sitio aún no tiene nada que mostrar" in page
    assert "banscan moderators add" not in page


async def test_the_numbers_and_chapters_are_what_the_api_says(client: NodeClient) -> None:
    assert isinstance(client.server, TestServer)
    await publish_demo(client.server)
    await put(client.server, "network", "deployment", demo_records(2, TODAY)[0][1])
    await add_madrid_chapter(client.server)

    page = await (await client.get("/?lang=en")).text()
    totals = {
        kind: (await (await client.get(f"/api/v1/stats?kind={kind}")).json())["total"]["count"]
        for kind in ("deployment", "incident")
    }
    coverage = (await (await client.get("/api/v1/coverage")).json())["chapters"]
    cameras, incidents, chapters, updated = numbers(page)
    # Only public records count: the network-audience camera is not among them.
    assert (int(cameras), int(incidents)) == (totals["deployment"], totals["incident"]) == (10, 12)
    assert int(chapters) == 2
    assert {c["name"] for c in coverage if c["name"]} >= {"Ban the Scan Madrid"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", updated)
    assert "nothing to show yet" not in page
    assert '<a href="https://madrid.example.org">Ban the Scan Madrid</a>' in page
    assert "Madrid, Spain" in page
    assert "(this site)" in page


async def test_the_site_settings_and_the_demo_banner_show(
    aiohttp_client: ClientFactory, data_dir: DataDir
) -> None:
    app = app_with(
        data_dir,
        network={"id": "banscan-dev"},
        site={
            "name": "Ban the Scan Leeds",
            "city": "Leeds",
            "about": {"en": "We map cameras.\n\nJoin us.", "es": "Cartografiamos cámaras."},
            "actions": [{"title": "Sign the petition", "url": "https://example.org/p"}],
        },
    )
    client = await aiohttp_client(app)
    page = await (await client.get("/?lang=en")).text()
    spanish = await (await client.get("/?lang=es")).text()
    assert "<h1>Ban the Scan Leeds</h1>" in page
    assert "<title>Ban the Scan Leeds</title>" in page
    assert "<p>We map cameras.</p>\n<p>Join us.</p>" in page
    assert "Sign the petition</a>" in page
    assert "Demo data." in page
    assert "Cartografiamos cámaras." in spanish
    assert "Datos de demostración." in spanish
    # The banner is on every page of a demo node, not only the home page.
    assert "Demo data." in await (await client.get("/privacy?lang=en")).text()


def small_map(page: str) -> str:
    start = page.index('<svg class="map-svg"')
    return page[start : page.index("</svg>", start)]


async def test_the_small_map_is_the_maps_drawing_redrawn_at_most_once_a_minute(
    aiohttp_client: ClientFactory, data_dir: DataDir
) -> None:
    now = [1_800_000_000_000]
    app = create_app(
        data_dir.load_config(), data_dir.load_key(), data_dir.database, clock=lambda: now[0]
    )
    client = await aiohttp_client(app)
    assert isinstance(client.server, TestServer)
    assert 'class="map-svg"' not in await (await client.get("/?lang=en")).text()  # empty

    await publish_demo(client.server)
    first = await (await client.get("/?lang=en")).text()
    drawn = small_map(first)
    assert drawn.count('class="camera ') >= 1
    assert 'href="/map?' in drawn or 'href="/deployments/' in drawn

    # Madrid's cameras: counted at once, drawn on the small map a minute later.
    await publish_demo(client.server, 2)
    page = await (await client.get("/?lang=en")).text()
    assert numbers(page)[0] == "18"
    assert small_map(page) == drawn
    now[0] += 60_000
    await put(client.server, "public", "incident", demo_records(3, TODAY)[-1][1])
    assert small_map(await (await client.get("/?lang=en")).text()) != drawn
