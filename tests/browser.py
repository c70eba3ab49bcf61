"""Pages in a real browser: Debian's chromium driven by Playwright, against a real node.

:func:`open_browser` starts headless chromium; :func:`visit` opens a page with
JavaScript on or off at a window width, and records every request the page
makes, every console message and every Content-Security-Policy violation, so a
test can assert that nothing left the node's origin. :func:`screenshot` keeps a
picture of the page as a test artifact (``$SCREENSHOTS_DIR``, by default
``build/screenshots/``), to be looked at by a person. :func:`axe_violations` runs
axe-core (vendored in ``tests/vendor/``) on a page visited with ``bypass_csp=True``
and returns its serious and critical findings.

On CI the absence of chromium is a failure (``.ci/run`` installs it); elsewhere
the browser tests are skipped.
"""

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright import async_api

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]  # aiohttp_server
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None and os.environ.get("CI"):
    pytest.fail("no chromium on PATH; .ci/run should have installed it", pytrace=False)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium; .ci/run does)"
)
ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
# axe-core's impact levels that fail a page.
SERIOUS = ("serious", "critical")
# Not a BANSCAN_ variable: the node takes those as settings and refuses unknown ones.
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR", ROOT / "build" / "screenshots"))
# SCREENSHOTS=0 (.ci/run): nobody looks at CI's pictures, and a full-page capture costs
# the browser about as much as the visit it pictures.
TAKE_SCREENSHOTS = os.environ.get("SCREENSHOTS") != "0"
# The widths every page is looked at: a laptop and a phone.
WIDTHS = (1280, 390)
# Flags that keep chromium from calling Google's services, which this machine refuses.
_QUIET = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@asynccontextmanager
async def open_browser() -> AsyncIterator[async_api.Browser]:
    assert CHROMIUM is not None
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=_QUIET)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Visit:
    """A page and what it did: requests, console messages, failed requests."""

    page: async_api.Page
    home: str
    requested: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # uncaught script errors
    status: int | None = None  # the page's own answer

    def elsewhere(self) -> list[str]:
        """Requests to any origin but the node's (data: and blob: URLs are the page's own)."""
        return [
            url
            for url in self.requested
            if not url.startswith(("data:", "blob:")) and origin(url) != self.home
        ]

    def csp_violations(self) -> list[str]:
        return [text for text in self.console if "Content Security Policy" in text]

    def assert_self_contained(self) -> None:
        """Nothing left the origin, nothing was refused by the policy, no script failed."""
        assert self.elsewhere() == []
        assert self.csp_violations() == []
        assert self.errors == []


@asynccontextmanager
async def visit(
    browser: async_api.Browser,
    url: str,
    *,
    javascript: bool,
    width: int = 1280,
    locale: str = "en-GB",
    bypass_csp: bool = False,
) -> AsyncIterator[Visit]:
    """``url`` opened in a fresh context (no cookies) with JavaScript on or off.

    ``bypass_csp`` lets the test inject scripts (axe-core) that the page's policy
    refuses; only for that: a visit that checks the policy must not bypass it."""
    context = await browser.new_context(
        java_script_enabled=javascript,
        locale=locale,
        viewport={"width": width, "height": 900},
        bypass_csp=bypass_csp,
    )
    context.set_default_timeout(15_000)
    try:
        page = await context.new_page()
        seen = Visit(page, origin(url))
        page.on("request", lambda request: seen.requested.append(request.url))
        page.on("console", lambda message: seen.console.append(message.text))
        page.on("requestfailed", lambda request: seen.failed.append(request.url))
        page.on("pageerror", lambda error: seen.errors.append(str(error)))
        response = await page.goto(url)
        seen.status = response.status if response is not None else None
        yield seen
    finally:
        await context.close()


async def screenshot(page: async_api.Page, name: str) -> Path:
    """Keep a full-page picture as ``<name>.png`` among the test artifacts (unless
    ``SCREENSHOTS=0``: then only the path it would have)."""
    path = SCREENSHOTS / f"{name}.png"
    if not TAKE_SCREENSHOTS:
        return path
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=True)
    return path


async def axe_violations(page: async_api.Page) -> list[str]:
    """axe-core's serious and critical violations on ``page``, one line per rule with
    the elements it found, e.g. ``color-contrast (serious): ... at ['main > p']``.

    The page must come from a :func:`visit` with ``bypass_csp=True`` and JavaScript
    on: axe runs as a script in the page, which the site's policy would refuse."""
    await page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        targets: v.nodes.slice(0, 5).map(n => n.target.join(" "))}))"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['targets']}"
        for v in found
        if v["impact"] in SERIOUS
    ]
