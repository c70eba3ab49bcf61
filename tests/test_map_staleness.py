"""How stale the map's tiles and GeoJSON may be while writes arrive, on an injected clock.

A tile, a GeoJSON view and the incident groups behind them may show data up to
``[site] map_max_age_s`` old (what their ``Cache-Control`` says), so a stream of
writes costs one computation per tile per ``map_max_age_s``, not one per write,
while every other answer keeps ``[reads] max_age_s``. These tests hold the
node's clock still and move it by hand (no sleeps): a new or retracted record
shows on the map no later than ``map_max_age_s`` after it was written, whichever
answer (a tile, a view, another filter) first read it, a crowd asking for one
stale tile computes it once, and a fresh tile is served from memory even while
a write holds the read gate.
"""

import asyncio
from collections.abc import Callable
from typing import Any

import mapbox_vector_tile
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import node.web.tiles
from node.app import create_app
from node.config import ReadsSection, SiteSection
from node.datadir import DataDir
from node.reads import READS
from tests.conftest import ClientFactory, NodeClient
from tests.factories import deployment_body, incident_body
from tests.nodeapp import put
from tests.test_map_tiles import tile_of

START_MS = 1_800_000_000_000
LONDON = (515_074_000, -1_278_000)
# Three incidents in gcpvj0: a group the map shows (the minimum is 3).
CELL = "gcpvj0"
Z = 10
# The map's bound, as banscan init writes it (seconds and milliseconds).
BOUND_S = SiteSection().map_max_age_s
BOUND = BOUND_S * 1000


class Clock:
    def __init__(self) -> None:
        self.ms = START_MS

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def started(aiohttp_client: ClientFactory, data_dir: DataDir, clock: Clock) -> NodeClient:
    app: web.Application = create_app(
        data_dir.load_config(), data_dir.load_key(), data_dir.database, clock=clock
    )
    client: NodeClient = await aiohttp_client(app)
    return client


def server(client: NodeClient) -> TestServer:
    assert isinstance(client.server, TestServer)
    return client.server


async def decoded(client: NodeClient, url: str) -> dict[str, Any]:
    answer = await client.get(url)
    assert answer.status == 200, await answer.text()
    assert answer.headers["Cache-Control"] == f"public, max-age={BOUND_S}"
    tile: dict[str, Any] = mapbox_vector_tile.decode(
        await answer.read(), default_options={"y_coord_down": True}
    )
    return tile


def point_ids(tile: dict[str, Any]) -> set[str]:
    return {f["properties"]["id"] for f in tile.get("deployments", {}).get("features", [])}


def cells(tile: dict[str, Any]) -> dict[str, int]:
    features = tile.get("incidents", {}).get("features", [])
    return {f["properties"]["cell"]: f["properties"]["count"] for f in features}


async def view_cells(client: NodeClient) -> dict[str, int]:
    answer = await client.get("/tiles/data.geojson", params={"bbox": "-1,51,0,52", "zoom": str(Z)})
    assert answer.status == 200, await answer.text()
    features = (await answer.json())["features"]
    return {
        f["properties"]["cell"]: f["properties"]["count"]
        for f in features
        if f["properties"]["layer"] == "incidents"
    }


async def test_a_new_or_retracted_camera_shows_on_a_tile_within_max_age(
    aiohttp_client: ClientFactory, data_dir: DataDir, clock: Clock
) -> None:
    client = await started(aiohttp_client, data_dir, clock)
    lat, lon = LONDON
    first = await put(
        server(client), "public", "deployment", deployment_body(lat_e7=lat, lon_e7=lon)
    )
    x, y = tile_of(lat, lon, 14)
    url = f"/tiles/14/{x}/{y}.mvt"
    assert point_ids(await decoded(client, url)) == {first.hex()}
    second = await put(
        server(client), "public", "deployment", deployment_body(lat_e7=lat + 100, lon_e7=lon)
    )
    await put(server(client), "public", "retraction", {"target": first.hex(), "reason": "error"})
    private = await put(
        server(client), "network", "deployment", deployment_body(lat_e7=lat + 200, lon_e7=lon)
    )
    # Other answers keep [reads] max_age_s: only the map lags further.
    listed = await client.get("/api/v1/deployments")
    assert listed.headers["Cache-Control"] == "public, max-age=1"
    clock.ms += BOUND // 2 - 1  # the tile's data is that old: served as it was
    assert point_ids(await decoded(client, url)) == {first.hex()}
    # From half the bound on, the tile is read again in the background (when depends
    # on its address) and meanwhile served as it was.
    clock.ms += BOUND // 2
    assert point_ids(await decoded(client, url)) in ({first.hex()}, {second.hex()})
    deadline = asyncio.get_running_loop().time() + 10
    while point_ids(await decoded(client, url)) != {second.hex()}:
        assert asyncio.get_running_loop().time() < deadline, "the tile was never refreshed"
    clock.ms += 1  # max_age: the retraction applied, the new camera shown, in any case
    assert point_ids(await decoded(client, url)) == {second.hex()}
    assert private.hex() not in point_ids(await decoded(client, url))
    # Nothing written since: the answer stays current without being computed again.
    clock.ms += 5 * BOUND
    again = await client.get(url)
    assert again.status == 200
    assert point_ids(await decoded(client, url)) == {second.hex()}


async def test_incident_groups_lag_at_most_max_age_whichever_answer_read_them(
    aiohttp_client: ClientFactory, data_dir: DataDir, clock: Clock
) -> None:
    client = await started(aiohttp_client, data_dir, clock)
    ids = [
        await put(server(client), "public", "incident", incident_body(area=CELL, country="GB"))
        for _ in range(3)
    ]
    x, y = tile_of(*LONDON, Z)
    url = f"/tiles/{Z}/{x}/{y}.mvt"
    assert cells(await decoded(client, url)) == {CELL: 3}
    # A fifth of the bound later (before the groups are read again in the background, at
    # a quarter) an incident is retracted: its group falls below the minimum.
    clock.ms += BOUND // 5
    await put(server(client), "public", "retraction", {"target": ids[0].hex(), "reason": "error"})
    # A view and a tile not asked for before are computed now, from the groups read
    # earlier (the map never recomputes them per write) ...
    assert await view_cells(client) == {CELL: 3}
    incidents_only = f"{url}?kind=incident"
    assert cells(await decoded(client, incidents_only)) == {CELL: 3}
    # ... so they are as old as those groups, and are computed again when those are
    # max_age old, not max_age after they were themselves computed.
    clock.ms += BOUND - BOUND // 5
    assert cells(await decoded(client, incidents_only)) == {}
    assert cells(await decoded(client, url)) == {}
    assert await view_cells(client) == {}


async def test_a_crowd_asking_for_a_stale_tile_computes_it_once(
    aiohttp_client: ClientFactory,
    data_dir: DataDir,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = await started(aiohttp_client, data_dir, clock)
    lat, lon = LONDON
    await put(server(client), "public", "deployment", deployment_body(lat_e7=lat, lon_e7=lon))
    encoded: list[int] = []
    encode: Callable[..., bytes] = node.web.tiles.encode_tile

    def counted(*args: Any) -> bytes:
        encoded.append(1)
        return encode(*args)

    monkeypatch.setattr(node.web.tiles, "encode_tile", counted)
    x, y = tile_of(lat, lon, 14)
    url = f"/tiles/14/{x}/{y}.mvt"
    await decoded(client, url)
    for _ in range(3):  # writes within max_age: the tile is not computed again
        await put(server(client), "public", "deployment", deployment_body(lat_e7=lat, lon_e7=lon))
        await decoded(client, url)
    assert len(encoded) == 1
    clock.ms += BOUND
    answers = await asyncio.gather(*(client.get(url) for _ in range(16)))
    assert {answer.status for answer in answers} == {200}
    assert len({answer.headers["ETag"] for answer in answers}) == 1
    assert len(encoded) == 2
    assert len(point_ids(await decoded(client, url))) == 4


async def test_a_fresh_tile_is_served_from_memory_even_when_the_gate_is_full(
    aiohttp_client: ClientFactory, data_dir: DataDir, clock: Clock
) -> None:
    config = data_dir.load_config()
    config = config.model_copy(
        update={"reads": ReadsSection(anonymous_concurrency=1, anonymous_queue=0)}
    )
    client: NodeClient = await aiohttp_client(
        create_app(config, data_dir.load_key(), data_dir.database, clock=clock)
    )
    lat, lon = LONDON
    await put(server(client), "public", "deployment", deployment_body(lat_e7=lat, lon_e7=lon))
    x, y = tile_of(lat, lon, 14)
    url = f"/tiles/14/{x}/{y}.mvt"
    assert len(point_ids(await decoded(client, url))) == 1
    gate = client.app[READS].gate
    # A write under way and the one read slot taken: the gate lets nothing else in ...
    async with gate.priority(), gate.admitted():
        assert (await client.get("/api/v1/records")).status == 503
        # ... but a tile younger than max_age is bytes in memory, served at once.
        assert len(point_ids(await decoded(client, url))) == 1
        clock.ms += BOUND  # too old to serve unchecked: it waits its turn like any read
        assert (await client.get(url)).status == 503


async def test_the_maps_bound_is_its_own_setting(
    aiohttp_client: ClientFactory, data_dir: DataDir, clock: Clock
) -> None:
    """``[site] map_max_age_s`` sets how late the map may be and what its answers say,
    whatever ``[reads] max_age_s`` is: a camera written shows after 3 s, not 1 s."""
    config = data_dir.load_config()
    config = config.model_copy(update={"site": SiteSection(map_max_age_s=3)})
    client: NodeClient = await aiohttp_client(
        create_app(config, data_dir.load_key(), data_dir.database, clock=clock)
    )
    lat, lon = LONDON
    first = await put(
        server(client), "public", "deployment", deployment_body(lat_e7=lat, lon_e7=lon)
    )
    x, y = tile_of(lat, lon, 14)
    url = f"/tiles/14/{x}/{y}.mvt"
    answer = await client.get(url)
    assert answer.headers["Cache-Control"] == "public, max-age=3"
    await put(server(client), "public", "deployment", deployment_body(lat_e7=lat + 9, lon_e7=lon))
    clock.ms += 2_000  # past [reads] max_age_s, within the map's 3 s: not computed again
    again = await client.get(url)
    assert again.headers["ETag"] == answer.headers["ETag"]
    view = await client.get("/tiles/data.geojson", params={"bbox": "-1,51,0,52", "zoom": "14"})
    assert view.headers["Cache-Control"] == "public, max-age=3"
    clock.ms += 1_000
    shown = mapbox_vector_tile.decode(await (await client.get(url)).read())
    assert len(point_ids(shown)) == 2
    assert first.hex() in point_ids(shown)
