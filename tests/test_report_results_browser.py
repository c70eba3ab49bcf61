"""The report's result pages in a real browser: switching language on the receipt and
the status pages keeps the code, the closed page leads elsewhere, and the date and time
hints read true beside the browser's own widgets. JavaScript on and off, both widths."""

import re

import pytest
from aiohttp import web
from playwright import async_api

from node.state import STORE
from protocol.sealing import ModeratorKey
from tests.browser import WIDTHS, ServerFactory, needs_chromium, screenshot, visit

# The worker's browser (tests/conftest.py) lives in the session's event loop.
pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="session")]
RECEIPT = re.compile(r"^[A-Z2-9]{4}(-[A-Z2-9]{4}){4}$")


@pytest.mark.parametrize("javascript", [False, True], ids=["nojs", "js"])
async def test_the_receipt_and_status_pages_switch_language_and_keep_the_code(
    session_server: ServerFactory,
    app: web.Application,
    javascript: bool,
    browser: async_api.Browser,
) -> None:
    server = await session_server(app)
    key = ModeratorKey.generate()
    await app[STORE].submissions.add_key(key.public.key_id, key.public.text, "test", actor="test")
    base = str(server.make_url("/")).rstrip("/")
    mode = "js" if javascript else "nojs"
    for width in WIDTHS:
        async with visit(
            browser, f"{base}/report", javascript=javascript, width=width, locale="en-US"
        ) as seen:
            page = seen.page
            when = page.locator("fieldset", has=page.get_by_label("Date"))
            await page.get_by_label("Date").fill("2024-03-27")
            await page.get_by_label("Time").fill("14:30")
            await when.screenshot(path=str(await screenshot(page, f"report-form-{mode}-{width}")))
            await page.get_by_label("A deployment sighting").check()
            await page.get_by_label("What happened").fill("A van with cameras on its roof.")
            await page.get_by_label("Country").select_option(label="United Kingdom")
            await page.get_by_label("Address or description").fill("Outside the east exit")
            await page.get_by_role("button", name="Send report").click()
            await page.wait_for_url(re.compile(r"/report\?lang=en$"))
            receipt = (await page.locator("#receipt").inner_text()).strip()
            assert RECEIPT.match(receipt)
            await screenshot(page, f"receipt-en-{mode}-{width}")

            await page.get_by_role("button", name="Español").click()
            await page.wait_for_url(re.compile(r"/report/status\?lang=es$"))
            assert await page.locator("html").get_attribute("lang") == "es"
            assert (await page.locator("#receipt").inner_text()).strip() == receipt
            await screenshot(page, f"receipt-es-{mode}-{width}")

            await page.get_by_role("button", name="English").click()
            await page.wait_for_url(re.compile(r"/report/status\?lang=en$"))
            assert (await page.locator("#receipt").inner_text()).strip() == receipt

            await page.get_by_role("link", name="Check your report's status").click()
            await page.get_by_label("Receipt code").fill(receipt)
            await page.get_by_role("button", name="Check status").click()
            assert "Received, waiting for review" in await page.locator("main").inner_text()
            await screenshot(page, f"status-en-{mode}-{width}")
            await page.get_by_role("button", name="Español").click()
            await page.wait_for_url(re.compile(r"/report/status\?lang=es$"))
            assert await page.locator("html").get_attribute("lang") == "es"
            main = await page.locator("main").inner_text()
            assert "Estado" in main
            assert receipt not in main
            await screenshot(page, f"status-es-{mode}-{width}")
            seen.assert_self_contained()


async def test_the_closed_page_leads_elsewhere(
    session_server: ServerFactory, app: web.Application, browser: async_api.Browser
) -> None:
    server = await session_server(app)
    base = str(server.make_url("/")).rstrip("/")
    for width in WIDTHS:
        async with visit(browser, f"{base}/report", javascript=False, width=width) as seen:
            page = seen.page
            assert await page.title() == "Reports are closed"
            links = page.locator("main a")
            hrefs = [await links.nth(i).get_attribute("href") for i in range(await links.count())]
            assert hrefs == ["/report/status?lang=en", "/?lang=en"]
            await screenshot(page, f"report-closed-{width}")
            await page.get_by_role("link", name="Español").click()
            assert await page.title() == "No se aceptan denuncias"
            seen.assert_self_contained()
