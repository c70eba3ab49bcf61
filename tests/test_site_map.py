"""/map and /embed/map on a real node: what the drawing holds for a known data set, the
filters and the view in the URL, bad input as clear HTML errors, the pages' policies
(scripts only here; /embed/map framable by the configured origins only), caching."""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from node.app import create_app
from node.datadir import DataDir
from tests.browser import ServerFactory
from tests.mapdata_known import BIG_CELL, CAMERAS, NEW_YORK, SMALL_CELL, seed

NodeClient = TestClient[web.Request, web.Application]


def configure(directory: DataDir, **site: str) -> None:
    """Set ``[site]`` keys (TOML values as text) in the config ``banscan init`` wrote."""
    text = directory.config_file.read_text(encoding="utf-8")
    for key, value in site.items():
        text, found = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text, count=1)
        assert found, key
    directory.config_file.write_text(text, encoding="utf-8")


async def started(aiohttp_server: ServerFactory, directory: DataDir) -> TestServer:
    app = create_app(directory.load_config(), directory.load_key(), directory.database)
    server = await aiohttp_server(app)
    await seed(server)
    return server


@pytest.fixture
async def node(aiohttp_server: ServerFactory, data_dir: DataDir) -> AsyncIterator[NodeClient]:
    server = await started(aiohttp_server, data_dir)
    client: NodeClient
    async with TestClient(server) as client:
        yield client


def drawn(page: str, element: str) -> int:
    svg = page[page.index('<svg class="map-svg"') : page.index("</svg>")]
    return len(re.findall(element, svg))


async def test_the_map_draws_public_cameras_and_only_large_enough_cells(
    node: NodeClient,
) -> None:
    response = await node.get(f"/map?lang=en&bbox={NEW_YORK}")
    assert response.status == 200
    page = await response.text()
    assert drawn(page, r'<use href="#shape-[a-z]+" class="camera') == len(CAMERAS)
    svg = page[page.index('<svg class="map-svg"') : page.index("</svg>")]
    counts = [int(n) for n in re.findall(r'aria-label="(\d+) incidents in the area', svg)]
    assert counts == [BIG_CELL[1]]  # the two of the small cell never show
    assert f"{SMALL_CELL[1]} more incidents" in page
    # Shapes tell FRT capability apart, classes carry status; never a point for incidents.
    assert 'href="#shape-triangle" class="camera frt-confirmed st-confirmed"' in page
    assert 'href="#shape-diamond" class="camera frt-suspected st-reported"' in page
    assert 'href="#shape-circle" class="camera frt-unknown st-disputed"' in page
    assert 'href="#mark-removed"' in page
    # Each camera links to its page, in the list under the map too.
    assert len(re.findall(r'<li><a href="/deployments/[0-9a-f]{64}\?lang=en"', page)) == 4
    # Accessible: the drawing is named and described, the legend says what shapes mean.
    assert 'aria-labelledby="map-svg-title map-svg-desc"' in page
    assert "Triangle, red: facial recognition confirmed" in page
    assert "Hatched: not surveyed" in page


async def test_kind_and_filters_choose_what_is_drawn(node: NodeClient) -> None:
    cameras = await (await node.get(f"/map?lang=en&kind=deployment&bbox={NEW_YORK}")).text()
    assert drawn(cameras, 'class="cell ') == 0
    assert drawn(cameras, 'class="camera') == len(CAMERAS)
    incidents = await (await node.get(f"/map?lang=en&kind=incident&bbox={NEW_YORK}")).text()
    assert drawn(incidents, 'class="camera') == 0
    assert drawn(incidents, 'class="cell ') == 1
    confirmed = await (await node.get(f"/map?lang=en&frt=confirmed&bbox={NEW_YORK}")).text()
    assert drawn(confirmed, 'class="camera') == 2
    assert drawn(confirmed, 'class="cell ') == 0  # no incident has an FRT capability
    # Empty form fields are dropped; the form keeps the view and the choices.
    page = await (await node.get(f"/map?lang=en&kind=&city=&status=removed&bbox={NEW_YORK}")).text()
    assert drawn(page, 'class="camera') == 1
    assert f'<input type="hidden" name="bbox" value="{NEW_YORK}">' in page
    assert '<option value="removed" selected>' in page


async def test_zoom_and_pan_links_keep_the_filter(node: NodeClient) -> None:
    page = await (await node.get(f"/map?lang=en&status=confirmed&bbox={NEW_YORK}")).text()
    links = dict(re.findall(r'<a class="map-button" href="([^"]+)">([^<]+)</a>', page))
    by_name = {name: href.replace("&amp;", "&") for href, name in links.items()}
    assert set(by_name) >= {"Zoom in", "Zoom out", "North", "South", "East", "West"}
    for href in by_name.values():
        assert "status=confirmed" in href
        assert (await node.get(href)).status == 200
    # The data attributes the script map reads, with the filter.
    assert 'data-tiles="/tiles/{z}/{x}/{y}.mvt?status=confirmed"' in page
    assert 'data-basemap="outlines"' in page
    assert re.search(r'data-outlines="/static/outlines/outlines-110m.json\?v=[0-9a-f]+"', page)
    assert 'data-min-incidents="3"' in page


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("bbox=1,2,3", "bbox"),
        ("bbox=10,0,5,1", "bbox"),
        ("bbox=0,95,1,96", "bbox"),
        ("kind=camera", "kind"),
        ("frt=maybe", "frt"),
        ("zoom=3", "zoom"),
    ],
)
async def test_bad_parameters_are_named_on_an_html_page(
    node: NodeClient, query: str, named: str
) -> None:
    for path in ("/map", "/embed/map"):
        response = await node.get(f"{path}?lang=en&{query}")
        assert response.status == 400
        assert response.content_type == "text/html"
        assert named in await response.text()


async def test_the_map_page_alone_may_run_scripts_and_is_cached(node: NodeClient) -> None:
    response = await node.get("/map?lang=en")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "worker-src 'self' blob:" in policy
    assert "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    again = await node.get("/map?lang=en", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304
    # A browser takes a 304's headers for its copy's: the policy must be the page's.
    assert again.headers["Content-Security-Policy"] == policy
    privacy = await node.get("/privacy?lang=en")
    assert "script-src" not in privacy.headers["Content-Security-Policy"]


async def test_the_embed_is_unframable_unless_origins_are_configured(node: NodeClient) -> None:
    response = await node.get(f"/embed/map?lang=en&bbox={NEW_YORK}")
    assert response.status == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    page = await response.text()
    assert 'class="site-header"' not in page  # the map alone, no site navigation
    # Every link opens the node's own page in a new tab.
    links = re.findall(r"<a [^>]*>", page)
    assert links
    assert all('target="_blank" rel="noopener"' in link for link in links)


async def test_the_embed_is_framable_by_the_configured_origins_only(
    aiohttp_server: ServerFactory, data_dir: DataDir
) -> None:
    configure(data_dir, embed_origins='["https://partner.example", "https://b.example:8443"]')
    server = await started(aiohttp_server, data_dir)
    async with TestClient(server) as client:
        response = await client.get("/embed/map?lang=en")
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors https://partner.example https://b.example:8443" in policy
        assert "X-Frame-Options" not in response.headers
        for path in ("/map?lang=en", "/privacy?lang=en", "/report"):
            other = await client.get(path)
            assert "frame-ancestors 'none'" in other.headers["Content-Security-Policy"]
            assert other.headers["X-Frame-Options"] == "DENY"


async def test_a_missing_pmtiles_basemap_is_noted_not_fatal(
    aiohttp_server: ServerFactory, data_dir: DataDir, tmp_path: Path
) -> None:
    configure(data_dir, basemap='"pmtiles:missing.pmtiles"')
    server = await started(aiohttp_server, data_dir)
    async with TestClient(server) as client:
        page = await (await client.get("/map?lang=en")).text()
        assert "The detailed street map this node should show is missing" in page
        assert 'data-basemap="outlines"' in page
        assert (await client.get("/basemap/missing.pmtiles")).status == 404
