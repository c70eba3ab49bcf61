"""The vendored libraries work in a real browser under the node's strict policy.

Each test serves a bare page (its script a same-origin file, never inline) with
the node's own ``/static/`` files and a Content-Security-Policy as strict as a
page of the site may have: scripts and workers from ``'self'`` only, no
``blob:``, no ``'unsafe-eval'``. It shows the way the site's pages use them:

- MapLibre's CSP build, its worker loaded from ``/static/`` with
  ``maplibregl.setWorkerUrl``, with the ``pmtiles`` protocol registered, draws
  a GeoJSON point;
- ``@noble/ed25519`` imported as an ES module, given ``@noble/hashes``' SHA-512
  (so it needs no ``crypto.subtle``, which plain http on a LAN address lacks),
  says RFC 8032's signatures are valid and an altered message's is not.

(Playwright's ``wait_for_function`` evaluates a string, which such a policy
refuses: wait with locators instead.)
"""

import json
from html import escape
from pathlib import Path

import pytest
from aiohttp import web
from playwright import async_api

from node.web.static import routes as static_routes
from node.web.static import static_url
from tests.browser import ServerFactory, needs_chromium, visit

# The worker's browser (tests/conftest.py) lives in the session's event loop.
pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="session")]
VECTORS = Path(__file__).resolve().parent / "vectors" / "rfc8032.json"
POLICY = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'self'; "
    "style-src 'self'; img-src 'self' data:; base-uri 'none'"
)

MAP_SCRIPT = """
maplibregl.setWorkerUrl(document.body.dataset.worker);
const protocol = new pmtiles.Protocol();
maplibregl.addProtocol("pmtiles", protocol.tile);
const point = {type: "Feature", geometry: {type: "Point", coordinates: [2.17, 41.38]},
               properties: {}};
const map = new maplibregl.Map({
  container: "map", center: [2.17, 41.38], zoom: 10,
  style: {version: 8,
          sources: {points: {type: "geojson",
                             data: {type: "FeatureCollection", features: [point]}}},
          layers: [{id: "land", type: "background", paint: {"background-color": "#eee"}},
                   {id: "points", type: "circle", source: "points",
                    paint: {"circle-radius": 8, "circle-color": "#b00"}}]},
});
const out = document.getElementById("out");
map.on("error", (event) => { out.textContent = "error " + event.error; });
map.on("load", () => map.once("idle", () => {
  const drawn = map.queryRenderedFeatures({layers: ["points"]}).length;
  out.textContent = "drawn " + drawn;
}));
"""

VERIFY_SCRIPT = """
import * as ed from "%(ed)s";
import { sha512 } from "%(sha2)s";
ed.etc.sha512Sync = (...parts) => sha512(ed.etc.concatBytes(...parts));
const hex = ed.etc.hexToBytes;
const results = [];
for (const v of JSON.parse(document.body.dataset.vectors)) {
  const message = hex(v.message);
  results.push(ed.verify(hex(v.signature), message, hex(v.public_key)) ? "valid" : "invalid");
  const altered = new Uint8Array([...message, 1]);
  results.push(ed.verify(hex(v.signature), altered, hex(v.public_key)) ? "valid" : "invalid");
}
document.getElementById("out").textContent = results.join(" ");
"""


def page_app(body_attributes: str, head: str, script: tuple[str, str]) -> web.Application:
    """The node's /static/ files, a page at / and its script at /page.js."""
    kind, source = script

    async def page(request: web.Request) -> web.Response:
        html = (
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>t</title>"
            f'{head}<script {kind} src="/page.js"></script></head>'
            f'<body {body_attributes}><div id="map"></div><p id="out">waiting</p></body></html>'
        )
        return web.Response(
            text=html, content_type="text/html", headers={"Content-Security-Policy": POLICY}
        )

    async def page_js(request: web.Request) -> web.Response:
        return web.Response(text=source, content_type="text/javascript")

    async def page_css(request: web.Request) -> web.Response:
        return web.Response(text="#map { width: 400px; height: 300px }", content_type="text/css")

    app = web.Application()
    app.add_routes(static_routes)
    app.router.add_get("/", page)
    app.router.add_get("/page.js", page_js)
    app.router.add_get("/page.css", page_css)
    return app


async def test_maplibre_csp_build_draws_with_its_worker_from_self(
    session_server: ServerFactory, browser: async_api.Browser
) -> None:
    css = static_url("vendor/maplibre-gl/dist/maplibre-gl.css")
    head = "".join(
        (
            f'<link rel="stylesheet" href="{css}">',
            '<link rel="stylesheet" href="/page.css">',
            f'<script src="{static_url("vendor/maplibre-gl/dist/maplibre-gl-csp.js")}"></script>',
            f'<script src="{static_url("vendor/pmtiles/dist/pmtiles.js")}"></script>',
        )
    )
    worker = static_url("vendor/maplibre-gl/dist/maplibre-gl-csp-worker.js")
    server = await session_server(page_app(f'data-worker="{worker}"', head, ("defer", MAP_SCRIPT)))
    async with (
        visit(browser, str(server.make_url("/")), javascript=True) as seen,
    ):
        out = seen.page.locator("#out")
        await out.filter(has_text="drawn").or_(out.filter(has_text="error")).wait_for()
        assert await out.inner_text() == "drawn 1"
        assert any("maplibre-gl-csp-worker.js" in url for url in seen.requested)
        seen.assert_self_contained()


async def test_noble_ed25519_checks_signatures_without_crypto_subtle(
    session_server: ServerFactory, browser: async_api.Browser
) -> None:
    vectors = json.loads(VECTORS.read_text())["vectors"]
    script = VERIFY_SCRIPT % {
        "ed": static_url("vendor/@noble/ed25519/index.js"),
        "sha2": static_url("vendor/@noble/hashes/sha2.js"),
    }
    attributes = f'data-vectors="{escape(json.dumps(vectors))}"'
    server = await session_server(page_app(attributes, "", ('type="module"', script)))
    async with (
        visit(browser, str(server.make_url("/")), javascript=True) as seen,
    ):
        out = seen.page.locator("#out")
        await out.filter(has_not_text="waiting").wait_for()
        assert (await out.inner_text()).split() == ["valid", "invalid"] * len(vectors)
        seen.assert_self_contained()
