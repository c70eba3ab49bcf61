"""The JavaScript map over an operator's PMTiles basemap, in a real browser: MapLibre
reads the file through the node with Range requests (the vendored pmtiles protocol),
draws its land, and nothing leaves the node's origin."""

import gzip
from pathlib import Path

import mapbox_vector_tile
import pytest
from aiohttp import web
from playwright import async_api
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from node.app import create_app
from node.datadir import DataDir
from tests.browser import ServerFactory, needs_chromium, screenshot, visit
from tests.mapdata_known import NEW_YORK, seed
from tests.test_site_map import configure

# The worker's browser (tests/conftest.py) lives in the session's event loop.
pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="session")]
EXTENT = 4096


def land_tile() -> bytes:
    """A gzip-compressed vector tile whose ``earth`` layer covers it all, with a ``water``
    square in its middle: what a Protomaps basemap holds, in miniature."""
    whole = f"POLYGON ((0 0, {EXTENT} 0, {EXTENT} {EXTENT}, 0 {EXTENT}, 0 0))"
    middle = "POLYGON ((1024 1024, 3072 1024, 3072 3072, 1024 3072, 1024 1024))"
    layers = [
        {"name": "earth", "features": [{"geometry": whole, "properties": {}}]},
        {"name": "water", "features": [{"geometry": middle, "properties": {}}]},
    ]
    return gzip.compress(mapbox_vector_tile.encode(layers, default_options={"extents": EXTENT}))


def write_basemap(path: Path, max_zoom: int = 3) -> None:
    """Every tile of zooms 0 to ``max_zoom``, each the same small land tile."""
    tile = land_tile()
    ids = sorted(
        zxy_to_tileid(z, x, y)
        for z in range(max_zoom + 1)
        for x in range(2**z)
        for y in range(2**z)
    )
    with path.open("wb") as stream:
        writer = Writer(stream)
        for tile_id in ids:
            writer.write_tile(tile_id, tile)
        writer.finalize(
            {
                "tile_type": TileType.MVT,
                "tile_compression": Compression.GZIP,
                "min_zoom": 0,
                "max_zoom": max_zoom,
                "min_lon_e7": -1800000000,
                "min_lat_e7": -850000000,
                "max_lon_e7": 1800000000,
                "max_lat_e7": 850000000,
            },
            {"vector_layers": [{"id": "earth", "fields": {}}, {"id": "water", "fields": {}}]},
        )


async def test_the_map_draws_a_pmtiles_basemap_from_the_node(
    session_server: ServerFactory, data_dir: DataDir, browser: async_api.Browser
) -> None:
    (data_dir.path / "basemap").mkdir()
    write_basemap(data_dir.path / "basemap" / "city.pmtiles")
    configure(data_dir, basemap='"pmtiles:city.pmtiles"')
    app: web.Application = create_app(
        data_dir.load_config(), data_dir.load_key(), data_dir.database
    )
    server = await session_server(app)
    await seed(server)
    url = str(server.make_url(f"/map?lang=en&bbox={NEW_YORK}"))
    async with visit(browser, url, javascript=True) as seen:
        page = seen.page
        await page.locator("#map.map-enhanced canvas").wait_for()
        await page.wait_for_function(
            "() => document.getElementById('map').mapLibre.areTilesLoaded()"
        )
        # The basemap's own layers drew features read from the file.
        drawn = await page.evaluate(
            "() => document.getElementById('map').mapLibre"
            ".queryRenderedFeatures({layers: ['earth', 'water']})"
            ".map(feature => feature.sourceLayer)"
        )
        assert {"earth", "water"} <= set(drawn)
        assert any("/basemap/city.pmtiles" in requested for requested in seen.requested)
        # The node's own layer is still drawn over it.
        assert any("/tiles/" in requested for requested in seen.requested)
        await screenshot(page, "map-pmtiles-js-1280")
        seen.assert_self_contained()
