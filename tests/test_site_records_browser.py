"""The lists and record pages in a real browser: JavaScript on and off, a laptop's and a
phone's width, nothing from another origin, no CSP violation; the record check says
"valid" for a real record and "invalid" for one whose signed bytes were altered (in the
database, or on the way to the browser), and still runs where ``crypto.subtle`` is missing."""

import pytest
from aiohttp import web
from playwright import async_api

from node.state import STORE
from tests.browser import WIDTHS, ServerFactory, needs_chromium, screenshot, visit
from tests.factories import deployment_body, incident_body
from tests.sitedata import CAMERA, CHAPTER, INCIDENT, publish

# The worker's browser (tests/conftest.py) lives in the session's event loop.
pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="session")]


async def verdict(page: async_api.Page) -> str:
    """The check's verdict once it has one (the element's text waits for it)."""
    result = page.locator("#check-result")
    await page.locator(
        '#check-result[data-verdict="valid"], #check-result[data-verdict="invalid"]'
    ).wait_for()
    return await result.inner_text()


async def seeded(session_server: ServerFactory, app: web.Application) -> tuple[str, dict[str, str]]:
    server = await session_server(app)
    await publish(server, "node", CHAPTER)
    ids = {
        "camera": await publish(server, "deployment", CAMERA),
        "incident": await publish(server, "incident", INCIDENT),
    }
    for n in range(3):
        await publish(server, "deployment", deployment_body(city="Madrid", country="ES", lat_e7=n))
        await publish(server, "incident", incident_body(city="Madrid", country="ES", region=None))
    ids["update"] = await publish(server, "incident", {**INCIDENT, "supersedes": ids["incident"]})
    ids["withdrawn"] = await publish(server, "incident", INCIDENT)
    await publish(server, "retraction", {"target": ids["withdrawn"], "reason": "consent_withdrawn"})
    return str(server.make_url("")).rstrip("/"), ids


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
async def test_lists_and_record_pages_in_a_browser(
    session_server: ServerFactory,
    app: web.Application,
    javascript: bool,
    browser: async_api.Browser,
) -> None:
    base, ids = await seeded(session_server, app)
    mode = "js" if javascript else "nojs"
    pages = {
        "deployments": "/deployments?lang=en",
        "incidents": "/incidents?lang=en",
        "incidents-filtered": "/incidents?city=Nowhere&lang=en",
        "deployment": f"/deployments/{ids['camera']}?lang=en",
        "incident": f"/incidents/{ids['update']}?lang=en",
        "incident-old": f"/incidents/{ids['incident']}?lang=es",
        "withdrawn": f"/incidents/{ids['withdrawn']}?lang=en",
    }
    for width in WIDTHS:
        for name, path in pages.items():
            async with visit(browser, base + path, javascript=javascript, width=width) as seen:
                page = seen.page
                await page.locator("h1").wait_for()
                if name in ("deployment", "incident", "withdrawn"):
                    if javascript:
                        assert (await verdict(page)).startswith("Valid: checked in your browser")
                        assert await page.locator("#check-nojs").is_hidden()
                    else:
                        assert await page.locator("#check-result").is_hidden()
                        assert await page.locator("#check-nojs").is_visible()
                await screenshot(page, f"records-{name}-{mode}-{width}")
                seen.assert_self_contained()
                assert seen.failed == []


async def test_the_check_says_invalid_for_altered_bytes(
    session_server: ServerFactory, app: web.Application, browser: async_api.Browser
) -> None:
    base, ids = await seeded(session_server, app)
    # A signature altered in the database: the page shows what the node holds.
    store = app[STORE]
    async with store.db.transaction() as conn:
        await conn.execute(
            "UPDATE records SET signature = ? WHERE id = ?",
            (bytes(64), bytes.fromhex(ids["camera"])),
        )
    async with visit(
        browser, f"{base}/deployments/{ids['camera']}?lang=en", javascript=True
    ) as seen:
        text = await verdict(seen.page)
        assert text.startswith("Invalid: do not trust this record")
        assert "The signature does NOT verify with the signing key." in text
        await screenshot(seen.page, "records-check-invalid-signature")
        seen.assert_self_contained()

    # A body altered on its way to the browser: the hash no longer matches.
    url = f"{base}/incidents/{ids['update']}?lang=en"
    async with visit(browser, url, javascript=True) as seen:
        page = seen.page

        async def tamper(route: async_api.Route) -> None:
            response = await route.fetch()
            text = await response.text()
            start = text.index('id="check-body">') + len('id="check-body">')
            flipped = "0" if text[start] != "0" else "1"
            await route.fulfill(response=response, body=text[:start] + flipped + text[start + 1 :])

        await page.route(url, tamper)
        await page.reload()
        text = await verdict(page)
        assert text.startswith("Invalid: do not trust this record")
        assert "The body does NOT match the hash the signature covers" in text
        assert "The signature verifies with the signing key." in text
        await screenshot(page, "records-check-invalid-body")
        seen.assert_self_contained()


async def test_the_check_runs_without_crypto_subtle(
    session_server: ServerFactory, app: web.Application, browser: async_api.Browser
) -> None:
    """As on a plain-http address, where browsers give no crypto.subtle."""
    base, ids = await seeded(session_server, app)
    url = f"{base}/incidents/{ids['update']}?lang=en"
    async with visit(browser, url, javascript=True) as seen:
        await seen.page.add_init_script(
            "Object.defineProperty(Crypto.prototype, 'subtle', {get: () => undefined});"
        )
        await seen.page.reload()
        text = await verdict(seen.page)
        assert text.startswith("Valid: checked in your browser")
        assert "is not on a secure (https) connection" in text
        seen.assert_self_contained()
