"""The home and statistics pages in a real browser: JavaScript on and off, a laptop's and a
phone's width, nothing loaded from elsewhere, no policy violation; a screenshot of each."""

import pytest
from playwright import async_api

from node.datadir import DataDir
from tests.browser import (
    SCREENSHOTS,
    TAKE_SCREENSHOTS,
    WIDTHS,
    ServerFactory,
    needs_chromium,
    screenshot,
    visit,
)
from tests.test_site_home import add_madrid_chapter, app_with, publish_demo

# The worker's browser (tests/conftest.py) lives in the session's event loop.
pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="session")]

SITE = {
    "name": "Ban the Scan London",
    "city": "London",
    "contact": "hello@banthescan.example",
    "about": {
        "en": "We are Londoners documenting where the police use facial recognition "
        "cameras, and what happens to the people they stop.",
        "es": "Somos vecinos de Londres que documentamos dónde usa la policía cámaras de "
        "reconocimiento facial y qué les pasa a las personas a las que paran.",
    },
    "actions": [
        {
            "title": "Sign the petition to ban live facial recognition",
            "url": "https://example.org/p",
        },
        {"title": "Write to your council member", "url": "https://example.org/letter"},
    ],
}


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
async def test_the_home_and_stats_pages(
    session_server: ServerFactory, data_dir: DataDir, javascript: bool, browser: async_api.Browser
) -> None:
    app = app_with(data_dir, site=SITE)
    server = await session_server(app)
    empty_url = str(server.make_url("/?lang=en"))
    mode = "js" if javascript else "nojs"
    async with visit(browser, empty_url, javascript=javascript, width=390) as seen:
        await seen.page.get_by_role("heading", name="This site has nothing to show yet").wait_for()
        await screenshot(seen.page, f"home-empty-{mode}-390")
        seen.assert_self_contained()

    await publish_demo(server)
    await add_madrid_chapter(server)
    for width in WIDTHS:
        async with visit(browser, empty_url, javascript=javascript, width=width) as seen:
            page = seen.page
            assert await page.title() == "Ban the Scan London"
            report = page.get_by_role("link", name="Report an incident or a camera")
            assert await report.get_attribute("href") == "/report?lang=en"
            await page.get_by_role("link", name="Ban the Scan Madrid").wait_for()
            await screenshot(page, f"home-demo-{mode}-{width}")
            seen.assert_self_contained()
        stats_url = str(server.make_url("/stats?lang=en"))
        async with visit(browser, stats_url, javascript=javascript, width=width) as seen:
            page = seen.page
            assert await page.title() == "Figures · Ban the Scan London"
            charts = page.get_by_role("img")
            assert await charts.count() == 5
            await screenshot(page, f"stats-demo-{mode}-{width}")
            if width == WIDTHS[-1] and TAKE_SCREENSHOTS:  # each chart up close, as a phone shows it
                sections = page.locator(".chart-section")
                for i in range(await sections.count()):
                    await sections.nth(i).screenshot(
                        path=str(SCREENSHOTS / f"stats-chart{i + 1}-{mode}-{width}.png")
                    )
            seen.assert_self_contained()
