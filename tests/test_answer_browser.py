"""A reporter answers the moderators' question in a real browser: the status page shows
the question only for that receipt code, an empty answer is explained, a real one is
taken and the report is back in review. JavaScript on and off, both widths, English and
Spanish."""

import re

import aiohttp
import pytest
from aiohttp import web
from playwright import async_api

from node.state import STORE
from protocol.sealing import ModeratorKey
from tests.browser import WIDTHS, ServerFactory, needs_chromium, screenshot, visit
from tests.test_submissions_api import report

# The worker's browser (tests/conftest.py) lives in the session's event loop.
pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="session")]
QUESTION = "Which exit of the station was it?\nWas the van marked with a police logo?"


@pytest.mark.parametrize("javascript", [False, True], ids=["nojs", "js"])
async def test_the_reporter_reads_the_question_and_answers_it(
    session_server: ServerFactory,
    app: web.Application,
    javascript: bool,
    browser: async_api.Browser,
) -> None:
    server = await session_server(app)
    key = ModeratorKey.generate()
    store = app[STORE]
    await store.submissions.add_key(key.public.key_id, key.public.text, "test", actor="test")
    base = str(server.make_url("/")).rstrip("/")
    mode = "js" if javascript else "nojs"
    other = await server_post(base, report())
    for width in WIDTHS:
        receipt = await server_post(base, report())
        asked = (await store.submissions.page(limit=500))[-1][1]
        await store.desk.ask(asked.id, "token:alice", QUESTION)
        for lang, check, send, empty_error in (
            ("en", "Check status", "Send my answer", "Write your answer"),
            ("es", "Consultar estado", "Enviar mi respuesta", "Escribe tu respuesta"),
        ):
            async with visit(
                browser, f"{base}/report/status?lang={lang}", javascript=javascript, width=width
            ) as seen:
                page = seen.page
                await page.locator("#receipt").fill(other)
                await page.get_by_role("button", name=check).click()
                assert "Which exit" not in await page.locator("main").inner_text()
                await page.goto(f"{base}/report/status?lang={lang}")
                await page.locator("#receipt").fill(receipt)
                await page.get_by_role("button", name=check).click()
                main = page.locator("main")
                assert "Which exit of the station was it?" in await main.inner_text()
                await screenshot(page, f"question-{lang}-{mode}-{width}")
                await page.get_by_role("button", name=send).click()
                assert empty_error in await main.inner_text()
                await screenshot(page, f"question-empty-{lang}-{mode}-{width}")
                if lang == "es":
                    await page.locator("#answer").fill("La salida norte. La furgoneta no.")
                    await page.get_by_role("button", name=send).click()
                    await page.wait_for_url(re.compile(r"/report/answer\?lang=es$"))
                    assert "revisión" in await main.inner_text()
                    await screenshot(page, f"answer-received-{lang}-{mode}-{width}")
                seen.assert_self_contained()
        assert (await store.submissions.get(asked.id)).status == "pending"  # type: ignore[union-attr]


async def server_post(base: str, payload: dict[str, object]) -> str:
    """Report through the JSON API, as another client would; the receipt code."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base}/api/v1/submissions", json=payload) as response,
    ):
        assert response.status == 201
        receipt: str = (await response.json())["receipt"]
        return receipt
