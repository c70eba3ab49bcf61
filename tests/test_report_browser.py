"""The report form in a real browser with JavaScript off, as Tor Browser at "Safest" runs it.

Debian's chromium, driven by Playwright, against a real node server on 127.0.0.1.
"""

import os
import re
import shutil
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright import async_api

from node.state import STORE
from node.web.static import static_url
from protocol.sealing import ModeratorKey

CHROMIUM = shutil.which("chromium")
# .ci/run installs chromium: on CI its absence is a failure, elsewhere a skip.
if CHROMIUM is None and os.environ.get("CI"):
    pytest.fail("no chromium on PATH; .ci/run should have installed it", pytrace=False)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium; .ci/run does)"
)
RECEIPT = re.compile(r"^[A-Z2-9]{4}(-[A-Z2-9]{4}){4}$")
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def test_a_report_sent_with_javascript_off_loads_nothing_from_elsewhere(
    aiohttp_server: ServerFactory, app: web.Application
) -> None:
    server = await aiohttp_server(app)
    key = ModeratorKey.generate()
    await app[STORE].submissions.add_key(key.public.key_id, key.public.text, "test", actor="test")
    home = origin(str(server.make_url("/")))
    requested: list[str] = []
    answered: dict[str, int] = {}
    console: list[str] = []

    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = await browser.new_context(java_script_enabled=False, locale="en-GB")
            context.set_default_timeout(10_000)
            page = await context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.on("response", lambda response: answered.update({response.url: response.status}))
            page.on("console", lambda message: console.append(message.text))

            await page.goto(f"{home}/report")
            await page.get_by_label("An incident").check()
            await page.get_by_label("What happened").fill("Cameras on a van scanned the queue.")
            await page.get_by_label("Date").fill("2024-03-27")
            await page.get_by_label("Country").select_option(label="United Kingdom")
            await page.get_by_label("City or town").fill("London")
            await page.get_by_label("Address or description").fill("Outside the east exit")
            await page.get_by_label("Technology").select_option(value="live_frt")
            await page.get_by_label("Category (incidents only)").select_option(
                label="Surveillance of a protest"
            )
            await page.get_by_label("Links to sources").fill("https://example.org/news/1")
            await page.get_by_label("may publish a summary").check()
            # Sent from the keyboard, with the focus drawn by the stylesheet.
            send = page.get_by_role("button", name="Send report")
            await send.focus()
            outline = await send.evaluate("button => getComputedStyle(button).outlineStyle")
            assert outline == "solid"
            await page.keyboard.press("Enter")
            await page.wait_for_url(f"{home}/report?lang=en")

            assert await page.title() == "Thank you: your report was received"
            receipt = (await page.locator("#receipt").inner_text()).strip()
            assert RECEIPT.match(receipt)

            await page.get_by_role("link", name="Check your report's status").click()
            await page.get_by_label("Receipt code").fill(receipt.lower())
            await page.get_by_role("button", name="Check status").click()
            await page.wait_for_url(f"{home}/report/status?lang=en")
            assert "Received, waiting for review" in await page.locator("main").inner_text()
        finally:
            await browser.close()

    assert [url for url in requested if origin(url) != home] == []
    assert answered[f"{home}{static_url('site.css')}"] == 200
    assert [text for text in console if "Content Security Policy" in text] == []
    [(_, submission)] = await app[STORE].submissions.page()
    assert submission.triage["category"] == "protest_surveillance"
