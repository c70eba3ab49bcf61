"""The map page in a real browser: the drawing shows the known data set, filters and
zoom links change the URL and what is drawn, nothing leaves the node's origin, and a
screenshot at each width, with JavaScript on and off, is kept to be looked at."""

from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from playwright import async_api

from tests.browser import WIDTHS, ServerFactory, needs_chromium, screenshot, visit
from tests.mapdata_known import BIG_CELL, CAMERAS, NEW_YORK, seed

# The worker's browser (tests/conftest.py) lives in the session's event loop.
pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="session")]

POINTS = "svg.map-svg use.camera"
CELLS = "svg.map-svg rect.cell"


async def cell_counts(page: async_api.Page) -> list[int]:
    """The count of each cell drawn, as its link names it (a small cell has no room to
    write it)."""
    cells = page.locator("svg.map-svg a:has(rect.cell)")
    names = [
        await cells.nth(i).get_attribute("aria-label") or "" for i in range(await cells.count())
    ]
    return [int(name.split()[0]) for name in names]


async def test_the_map_without_javascript(
    session_server: ServerFactory, app: web.Application, browser: async_api.Browser
) -> None:
    server = await session_server(app)
    await seed(server)
    url = str(server.make_url(f"/map?lang=en&bbox={NEW_YORK}"))
    async with visit(browser, url, javascript=False) as seen:
        page = seen.page
        assert await page.title() == "Map"
        # Every public camera is a point; the network-only one is not.
        assert await page.locator(POINTS).count() == len(CAMERAS)
        # Incidents only as counts per cell, each at least the minimum (3): the two in
        # dr5rsq never show as a cell of their own.
        assert await cell_counts(page) == [BIG_CELL[1]]
        assert await page.locator("svg.map-svg circle.cluster").count() == 0
        # The list is the accessible alternative: one link per camera.
        assert await page.locator("ul.map-points a").count() == len(CAMERAS)
        seen.assert_self_contained()

        # A filter goes in the URL and changes what is drawn: FRT confirmed cameras only,
        # and incidents, which have no FRT capability, are left out.
        await page.get_by_label("Facial recognition", exact=True).select_option("confirmed")
        await page.get_by_role("button", name="Show").click()
        await page.wait_for_url("**frt=confirmed**")
        query = parse_qs(urlsplit(page.url).query)
        assert query["frt"] == ["confirmed"]
        assert query["bbox"] == [NEW_YORK]
        confirmed = [camera for camera in CAMERAS if camera[2] == "confirmed"]
        assert await page.locator(POINTS).count() == len(confirmed)
        assert await page.locator(CELLS).count() == 0

        # Zoom links keep the filter and move the view.
        await page.get_by_role("link", name="Zoom out").click()
        await page.wait_for_url(lambda u: parse_qs(urlsplit(u).query).get("bbox") != [NEW_YORK])
        assert parse_qs(urlsplit(page.url).query)["frt"] == ["confirmed"]
        assert await page.locator(POINTS).count() == len(confirmed)

        # Incidents only; a cell is a link to its own view.
        await page.goto(str(server.make_url(f"/map?lang=en&kind=incident&bbox={NEW_YORK}")))
        assert await page.locator(POINTS).count() == 0
        before = page.url
        await page.locator("svg.map-svg a:has(rect.cell)").first.click()
        await page.wait_for_url(lambda u: u != before)
        assert "kind=incident" in page.url
        assert await page.locator(CELLS).count() >= 1
        seen.assert_self_contained()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
async def test_map_screenshots(
    session_server: ServerFactory,
    app: web.Application,
    javascript: bool,
    browser: async_api.Browser,
) -> None:
    server = await session_server(app)
    await seed(server)
    for width in WIDTHS:
        for name, path in (
            ("map-known", f"/map?lang=en&bbox={NEW_YORK}"),
            ("map-known-es", "/map?lang=es"),
            ("embed-map-known", f"/embed/map?lang=en&bbox={NEW_YORK}"),
        ):
            url = str(server.make_url(path))
            async with visit(browser, url, javascript=javascript, width=width) as seen:
                if javascript:  # MapLibre draws over the SVG once its style loaded
                    await seen.page.locator("#map.map-enhanced canvas").wait_for()
                    await seen.page.wait_for_function(
                        "() => document.getElementById('map').mapLibre.areTilesLoaded()"
                    )
                else:
                    await seen.page.locator("svg.map-svg").wait_for()
                tag = "js" if javascript else "nojs"
                await screenshot(seen.page, f"{name}-{tag}-{width}")
                seen.assert_self_contained()
