"""An operator's PMTiles basemap served by the node with HTTP Range requests, and its
fonts and sprites: against a small PMTiles file the test writes and reads back through
the node with the ``pmtiles`` package's own reader."""

import asyncio
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pmtiles.reader import Reader
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from node.app import create_app
from node.datadir import DataDir
from tests.browser import ServerFactory
from tests.test_site_map import configure

NodeClient = TestClient[web.Request, web.Application]
TILES = {(0, 0, 0): b"world tile " * 50, (1, 1, 0): b"north-east" * 300, (2, 2, 1): b"x" * 7000}


def write_pmtiles(path: Path) -> None:
    with path.open("wb") as stream:
        writer = Writer(stream)
        for (z, x, y), data in sorted(TILES.items(), key=lambda item: zxy_to_tileid(*item[0])):
            writer.write_tile(zxy_to_tileid(z, x, y), data)
        writer.finalize(
            {
                "tile_type": TileType.MVT,
                "tile_compression": Compression.NONE,
                "min_zoom": 0,
                "max_zoom": 2,
            },
            {"name": "test basemap"},
        )


@pytest.fixture
async def node(aiohttp_server: ServerFactory, data_dir: DataDir) -> AsyncIterator[NodeClient]:
    folder = data_dir.path / "basemap"
    (folder / "fonts" / "Noto Sans Regular").mkdir(parents=True)
    (folder / "sprites").mkdir()
    write_pmtiles(folder / "city.pmtiles")
    (folder / "fonts" / "Noto Sans Regular" / "0-255.pbf").write_bytes(b"\x0a\x03abc")
    (folder / "sprites" / "light.json").write_text('{"a": {"x": 0}}')
    (folder / "sprites" / "light@2x.png").write_bytes(b"\x89PNG fake")
    (data_dir.path / "secret.txt").write_text("not served")
    configure(data_dir, basemap='"pmtiles:city.pmtiles"')
    app = create_app(data_dir.load_config(), data_dir.load_key(), data_dir.database)
    client: NodeClient = TestClient(await aiohttp_server(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def test_the_pmtiles_reader_reads_every_tile_through_the_node(node: NodeClient) -> None:
    url = str(node.make_url("/basemap/city.pmtiles"))

    def get_bytes(offset: int, length: int) -> bytes:
        request = urllib.request.Request(
            url, headers={"Range": f"bytes={offset}-{offset + length - 1}"}
        )
        with urllib.request.urlopen(request) as response:
            assert response.status == 206
            return bytes(response.read())

    def read_all() -> dict[tuple[int, int, int], bytes | None]:
        reader = Reader(get_bytes)
        assert reader.metadata()["name"] == "test basemap"
        return {zxy: reader.get(*zxy) for zxy in TILES}

    assert await asyncio.to_thread(read_all) == TILES


async def test_range_requests(node: NodeClient, data_dir: DataDir) -> None:
    body = (data_dir.path / "basemap" / "city.pmtiles").read_bytes()
    size = len(body)
    whole = await node.get("/basemap/city.pmtiles")
    assert whole.status == 200
    assert await whole.read() == body
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Content-Type"] == "application/vnd.pmtiles"
    assert "max-age" in whole.headers["Cache-Control"]
    etag = whole.headers["ETag"]

    part = await node.get("/basemap/city.pmtiles", headers={"Range": "bytes=0-126"})
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 0-126/{size}"
    assert await part.read() == body[:127]
    tail = await node.get("/basemap/city.pmtiles", headers={"Range": "bytes=-10"})
    assert tail.status == 206
    assert await tail.read() == body[-10:]

    beyond = await node.get("/basemap/city.pmtiles", headers={"Range": f"bytes={size}-"})
    assert beyond.status == 416
    assert beyond.headers["Content-Range"] == f"bytes */{size}"

    # If-Range: the range while the file is the same, the whole file once it changed.
    same = await node.get("/basemap/city.pmtiles", headers={"Range": "bytes=0-9", "If-Range": etag})
    assert same.status == 206
    changed = await node.get(
        "/basemap/city.pmtiles", headers={"Range": "bytes=0-9", "If-Range": '"other"'}
    )
    assert changed.status == 200
    assert await changed.read() == body
    cached = await node.get("/basemap/city.pmtiles", headers={"If-None-Match": etag})
    assert cached.status == 304


async def test_fonts_and_sprites_beside_it(node: NodeClient) -> None:
    glyphs = await node.get("/basemap/fonts/Noto%20Sans%20Regular/0-255.pbf")
    assert glyphs.status == 200
    assert glyphs.headers["Content-Type"] == "application/x-protobuf"
    assert await glyphs.read() == b"\x0a\x03abc"
    sprite = await node.get("/basemap/sprites/light.json")
    assert await sprite.json() == {"a": {"x": 0}}
    assert (await node.get("/basemap/sprites/light@2x.png")).status == 200


@pytest.mark.parametrize(
    "path",
    [
        "/basemap/other.pmtiles",
        "/basemap/..%2Fsecret.txt",
        "/basemap/fonts/..%2F..%2Fsecret.txt/0-255.pbf",
        "/basemap/fonts/Noto%20Sans%20Regular/secret.pbf",
        "/basemap/sprites/..%2F..%2Fsecret.txt",
        "/basemap/sprites/light.txt",
        "/basemap/sprites/missing.json",
    ],
)
async def test_nothing_else_is_served(node: NodeClient, path: str) -> None:
    response = await node.get(path)
    assert response.status == 404


async def test_the_map_page_names_the_basemap(node: NodeClient) -> None:
    page = await (await node.get("/map?lang=en")).text()
    assert 'data-basemap="pmtiles:/basemap/city.pmtiles"' in page
    assert "is missing" not in page
