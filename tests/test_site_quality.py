"""The checks every page of the public site must pass (the pages: tests/site_pages.py).

Against one real node holding a seeded data set, with its ``[site]`` settings:

- accessibility: no serious or critical axe-core violation, JavaScript on, at
  each width;
- HTML validity: the Nu HTML Checker finds no error in any page nor in the
  stylesheets they link (one checker run for all);
- privacy: with JavaScript on and off, at each width, no request leaves the
  node's origin, the Content-Security-Policy refuses nothing, no script fails; a
  screenshot of each is kept (build/screenshots/<page>-<js|nojs>-<width>.png);
- weight: a page's HTML and every stylesheet it links weigh at most 60 KB
  gzip-compressed; the JavaScript it loads (page scripts, modules, workers) is
  within its budget (``SitePage.scripts``: none on most pages).

The browser checks run one test a page, so that the test workers share them; each
reports every problem of its page, not only the first. They read one node and use
one browser a worker (``site`` and ``browser`` are shared; the report form's test,
which sends reports, has a node of its own).
"""

import gzip
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from playwright import async_api

from node.app import create_app
from node.datadir import DataDir
from tests.browser import (
    WIDTHS,
    axe_violations,
    needs_chromium,
    screenshot,
    visit,
)
from tests.conftest import with_stewards
from tests.factories import STEWARD
from tests.htmlcheck import needs_java, validate
from tests.site_pages import PAGES, SitePage, seed, with_site

# The module's node and the worker's browser live in the session's event loop.
in_session_loop = pytest.mark.asyncio(loop_scope="session")

WEIGHT_LIMIT = 60 * 1024  # bytes, gzip-compressed: HTML + CSS of one page


@dataclass
class Site:
    server: TestServer
    ids: dict[str, str]

    def url(self, page: SitePage) -> str:
        return str(self.server.make_url(page.url(self.ids)))


async def serve_site(directory: DataDir) -> Site:
    """A node with [site] settings, a moderator key and the seeded records, serving."""
    app = create_app(with_site(directory.load_config()), directory.load_key(), directory.database)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return Site(server, await seed(app))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """The node the pages are read from, one for the module's tests (they only read)."""
    directory = DataDir(tmp_path_factory.mktemp("site") / "node")
    key = directory.init("banthescan", [])
    with_stewards(directory, key.text, STEWARD.text)
    served = await serve_site(directory)
    yield served
    await served.server.close()


@pytest_asyncio.fixture(loop_scope="session")
async def own_site(data_dir: DataDir) -> AsyncIterator[Site]:
    """A node of the test's own, for a test that writes (reports)."""
    served = await serve_site(data_dir)
    yield served
    await served.server.close()


class _Links(HTMLParser):
    """The stylesheets a page links."""

    def __init__(self) -> None:
        super().__init__()
        self.stylesheets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "link" and (found.get("rel") or "").lower() == "stylesheet" and found["href"]:
            self.stylesheets.append(found["href"])


async def fetch(
    session: ClientSession, site: Site, page: SitePage
) -> tuple[bytes, dict[str, bytes]]:
    """The page's HTML and the stylesheets it links, by path."""
    async with session.get(site.url(page), headers={"Accept": "text/html"}) as answer:
        assert answer.status == page.status, (page.name, answer.status)
        html = await answer.read()
    parser = _Links()
    parser.feed(html.decode())
    sheets = {}
    for href in parser.stylesheets:
        async with session.get(site.server.make_url(href)) as answer:
            assert answer.status == 200, href
            sheets[urlsplit(href).path] = await answer.read()
    return html, sheets


@needs_chromium
@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
@in_session_loop
async def test_no_page_loads_anything_from_elsewhere_with_or_without_javascript(
    site: Site, browser: async_api.Browser, page: SitePage
) -> None:
    """And no page loads more JavaScript than its budget (``SitePage.scripts``), nor is
    wider than the window. One test a page, so that test workers share the pages."""
    problems: dict[str, object] = {}
    scripts: set[str] = set()
    for javascript in (True, False):
        for width in WIDTHS:
            name = f"{page.name}-{'js' if javascript else 'nojs'}-{width}"
            async with visit(browser, site.url(page), javascript=javascript, width=width) as seen:
                await screenshot(seen.page, name)
                scripts.update(url for url in seen.requested if urlsplit(url).path.endswith(".js"))
                # Nothing may widen the page past the window (a phone's 390 px).
                wide = await seen.page.evaluate("document.documentElement.scrollWidth")
                found = {
                    "wider than the window": wide if wide > width else None,
                    "status": seen.status if seen.status != page.status else None,
                    "elsewhere": seen.elsewhere(),
                    "csp": seen.csp_violations(),
                    "errors": seen.errors,
                }
                if any(found.values()):
                    problems[name] = found
    weight = 0
    async with ClientSession() as session:
        for url in scripts:
            async with session.get(url) as answer:
                weight += len(gzip.compress(await answer.read(), 9))
    if weight > page.scripts:
        problems["scripts"] = f"{weight} bytes > {page.scripts}: {scripts}"
    assert problems == {}


@needs_chromium
@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
@in_session_loop
async def test_no_page_has_a_serious_accessibility_violation(
    site: Site, browser: async_api.Browser, page: SitePage
) -> None:
    problems: dict[int, list[str]] = {}
    for width in WIDTHS:
        async with visit(
            browser, site.url(page), javascript=True, width=width, bypass_csp=True
        ) as seen:
            violations = await axe_violations(seen.page)
            if violations:
                problems[width] = violations
    assert problems == {}


@needs_java
@in_session_loop
async def test_every_page_and_stylesheet_is_valid_html_and_css(site: Site) -> None:
    documents: dict[str, bytes] = {}
    async with ClientSession() as session:
        for page in PAGES:
            html, sheets = await fetch(session, site, page)
            documents[page.name] = html
            documents.update(sheets)  # each stylesheet once, by its path (ending .css)
    errors = {name: found for name, found in validate(documents).items() if found}
    assert errors == {}


@in_session_loop
async def test_every_page_weighs_at_most_60_kb_compressed(site: Site) -> None:
    weights: dict[str, int] = {}
    async with ClientSession() as session:
        for page in PAGES:
            html, sheets = await fetch(session, site, page)
            bodies = (html, *sheets.values())
            weights[page.name] = sum(len(gzip.compress(body, 9)) for body in bodies)
    heavy = {name: weight for name, weight in weights.items() if weight > WEIGHT_LIMIT}
    assert heavy == {}, f"over {WEIGHT_LIMIT} bytes gzip-compressed"
    assert all(weight > 0 for weight in weights.values())


def test_the_list_names_each_page_once() -> None:
    names = [page.name for page in PAGES]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z0-9-]+", name) for name in names)


@needs_chromium
@needs_java
@in_session_loop
async def test_the_report_forms_answers_pass_the_same_checks(
    own_site: Site, browser: async_api.Browser
) -> None:
    """The pages a form answers with (the report form with errors, the receipt, a
    report's status, an unknown receipt) are accessible and valid HTML too."""
    answers: dict[str, bytes] = {}
    problems: dict[str, object] = {}
    site = own_site
    report = site.url(SitePage("report", "/report"))
    async with visit(browser, report, javascript=True, bypass_csp=True) as seen:
        page = seen.page

        async def sent(name: str, button: str) -> None:
            async with page.expect_navigation() as navigation:
                await page.get_by_role("button", name=button).click()
            answers[name] = await (await navigation.value).body()
            violations = await axe_violations(page)
            if violations:
                problems[name] = violations
            await screenshot(page, f"{name}-js-1280")

        await sent("report-errors", "Send report")
        await page.get_by_label("An incident").check()
        await page.get_by_label("What happened").fill("A van with cameras scanned the queue.")
        await page.get_by_label("Date").fill("2025-03-27")
        await page.get_by_label("Country").select_option(label="Spain")
        await page.get_by_label("City or town").fill("Barcelona")
        await page.get_by_label("Address or description").fill("Outside the metro station")
        await sent("report-receipt", "Send report")
        receipt = (await page.locator("#receipt").inner_text()).strip()
        await page.get_by_role("link", name="Check your report's status").click()
        await page.get_by_label("Receipt code").fill(receipt)
        await sent("report-status-result", "Check status")
        await page.goto(site.url(SitePage("report-status", "/report/status")))
        await page.get_by_label("Receipt code").fill("AAAA-AAAA-AAAA-AAAA-AAAA")
        await sent("report-status-unknown", "Check status")
    invalid = {name: found for name, found in validate(answers).items() if found}
    assert problems == {}
    assert invalid == {}
