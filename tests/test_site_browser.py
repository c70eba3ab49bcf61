"""The site's shared pages in a real browser: with JavaScript on and off, at a laptop's
and a phone's width, loading nothing from elsewhere; a screenshot of each is kept."""

import pytest
from aiohttp import web
from playwright import async_api

from tests.browser import WIDTHS, ServerFactory, needs_chromium, screenshot, visit

# The worker's browser (tests/conftest.py) lives in the session's event loop.
pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="session")]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
async def test_the_privacy_page(
    session_server: ServerFactory,
    app: web.Application,
    javascript: bool,
    browser: async_api.Browser,
) -> None:
    server = await session_server(app)
    for width in WIDTHS:
        url = str(server.make_url("/privacy?lang=en"))
        async with visit(browser, url, javascript=javascript, width=width) as seen:
            page = seen.page
            assert await page.title() == "Privacy"
            main = await page.locator("main").inner_text()
            assert "It loads nothing from other sites" in main
            await page.get_by_role("link", name="Map").wait_for()
            await screenshot(page, f"privacy-{'js' if javascript else 'nojs'}-{width}")
            seen.assert_self_contained()
