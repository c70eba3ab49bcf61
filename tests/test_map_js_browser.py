"""The JavaScript map (map.js) in a real browser, on the map page of a real node.

With the known data set (tests/mapdata_known.py), MapLibre draws the node's tiles:
the four public cameras (not the network-only one), one incident cell of 5 (the
two incidents of a smaller cell are never drawn), no request to another origin,
no Content-Security-Policy violation (the page's own strict policy), no script
error. Moving the map keeps the view in the URL. Screenshots at both widths are
kept to be looked at.

What the map drew is read from ``#map``'s ``data-drawn-*`` attributes, which
map.js sets after each redraw (a locator waits for them: the page's policy
refuses the evaluated strings of ``wait_for_function``).
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from playwright import async_api

from tests.browser import WIDTHS, ServerFactory, needs_chromium, screenshot, visit
from tests.mapdata_known import BIG_CELL, CAMERAS, NEW_YORK, seed

# The worker's browser (tests/conftest.py) lives in the session's event loop.
pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="session")]


async def test_the_script_map_draws_the_known_data_from_the_nodes_tiles(
    session_server: ServerFactory, app: web.Application, browser: async_api.Browser
) -> None:
    server = await session_server(app)
    await seed(server)
    url = str(server.make_url(f"/map?lang=en&bbox={NEW_YORK}"))
    async with visit(browser, url, javascript=True) as seen:
        page = seen.page
        await page.locator("#map.map-enhanced canvas").wait_for()
        drawn = page.locator(
            f'#map[data-drawn-cameras="{len(CAMERAS)}"][data-drawn-cells="{BIG_CELL[1]}"]'
        )
        await drawn.wait_for(state="attached")
        assert await page.locator("#map").get_attribute("data-drawn-clusters") == "0"
        # The cell's count is written on the map (an HTML marker, no glyph server).
        assert await page.locator(".map-count-cell").all_text_contents() == [str(BIG_CELL[1])]
        # Everywhere but the United States is hatched "not surveyed".
        await page.locator('.map-gl[data-surveyed="US"]').wait_for(state="attached")
        assert any("/tiles/" in request for request in seen.requested)
        await screenshot(page, "map-js-drawn-1280")

        # A filter in the URL reaches the tiles: FRT confirmed cameras only, no incidents.
        await page.goto(str(server.make_url(f"/map?lang=en&frt=confirmed&bbox={NEW_YORK}")))
        confirmed = [camera for camera in CAMERAS if camera[2] == "confirmed"]
        await page.locator(
            f'#map[data-drawn-cameras="{len(confirmed)}"][data-drawn-cells=""]'
        ).wait_for(state="attached")

        # Moving the map keeps the view, and the filter, in the URL.
        await page.get_by_role("button", name="Zoom in").click()
        await page.wait_for_url(lambda u: parse_qs(urlsplit(u).query).get("bbox") != [NEW_YORK])
        query = parse_qs(urlsplit(page.url).query)
        assert query["frt"] == ["confirmed"]
        west, south, east, north = (float(v) for v in query["bbox"][0].split(","))
        assert -74.3 < west < east < -73.7
        assert 40.5 < south < north < 40.95
        assert (
            await page.locator('input[name="bbox"]').first.get_attribute("value")
            == (query["bbox"][0])
        )
        seen.assert_self_contained()


async def test_the_script_map_at_each_width(
    session_server: ServerFactory, app: web.Application, browser: async_api.Browser
) -> None:
    server = await session_server(app)
    await seed(server)
    for width in WIDTHS:
        for name, path in (
            ("map-js-ny", f"/map?lang=en&bbox={NEW_YORK}"),
            ("map-js-world", "/map?lang=es&bbox=-180,-85,180,85"),
        ):
            url = str(server.make_url(path))
            async with visit(browser, url, javascript=True, width=width) as seen:
                await seen.page.locator("#map[data-drawn]").wait_for(state="attached")
                await seen.page.locator(".map-gl[data-surveyed]").wait_for(state="attached")
                await screenshot(seen.page, f"{name}-{width}")
                seen.assert_self_contained()
