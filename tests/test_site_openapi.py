"""The public site's routes answer what the OpenAPI document says, every status of it.

Each documented answer of each path of :func:`node.api.openapi.site.site_paths` is
produced by a real request to a real node, and its content type checked.
"""

from typing import Any

import pytest

from node.api.openapi.campaignsite import campaign_site_paths
from node.api.openapi.site import site_paths
from node.datadir import DataDir
from tests.campaigndata import publish_campaign
from tests.conftest import NodeClient
from tests.sitedata import CAMERA, INCIDENT, publish
from tests.test_api_openapi import METHODS, Conformance
from tests.test_basemap import write_pmtiles
from tests.test_site_map import configure


@pytest.fixture
def basemap(data_dir: DataDir) -> None:
    """A PMTiles basemap, a font and a sprite in the data directory, configured before
    the node (``client``) starts."""
    folder = data_dir.path / "basemap"
    (folder / "fonts" / "Noto Sans Regular").mkdir(parents=True)
    (folder / "sprites").mkdir()
    write_pmtiles(folder / "city.pmtiles")
    (folder / "fonts" / "Noto Sans Regular" / "0-255.pbf").write_bytes(b"\x0a\x03abc")
    (folder / "sprites" / "light.png").write_bytes(b"\x89PNG fake")
    configure(data_dir, basemap='"pmtiles:city.pmtiles"')


async def test_every_documented_answer_of_the_site_is_real(
    basemap: None, client: NodeClient
) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    conformance = Conformance(document)

    async def check(path: str, url: str, headers: dict[str, str] | None = None) -> Any:
        return await conformance.check("get", path, await client.get(url, headers=headers))

    await check("/", "/?lang=es")
    await check("/", "/?utm_source=x")
    await check("/stats", "/stats?country=GB&city=&occurred_from=2025-01-01&lang=en")
    await check("/stats", "/stats?occurred_from=2025-02-30")
    page = await check("/privacy", "/privacy?lang=es")
    start = page.index('href="/static/site.css?v=')
    css = page[start + 6 : page.index('"', start + 6)]
    await check("/static/{name}", css)
    answer = await client.get(css)
    await check("/static/{name}", css, {"If-None-Match": answer.headers["ETag"]})
    await check("/static/{name}", "/static/no-such-file.css")

    camera = await publish(client.server, "deployment", CAMERA)
    incident = await publish(client.server, "incident", INCIDENT)
    for kind, record_id in (("deployments", camera), ("incidents", incident)):
        await check(f"/{kind}", f"/{kind}?city=New+York&lang=en")
        await check(f"/{kind}", f"/{kind}?after=soon")
        await check(f"/{kind}/{{id}}", f"/{kind}/{record_id}?lang=es")
        await check(f"/{kind}/{{id}}", f"/{kind}/{record_id[:10]}")
        await check(f"/{kind}/{{id}}", f"/{kind}/{'0' * 64}")
        await check(f"/{kind}/{{id}}/bundle", f"/{kind}/{record_id}/bundle")
        await check(f"/{kind}/{{id}}/bundle", f"/{kind}/{record_id.upper()}/bundle")
        await check(f"/{kind}/{{id}}/bundle", f"/{kind}/{'0' * 64}/bundle")

    for path, good, bad in (
        ("/tiles/{z}/{x}/{y}.mvt", "/tiles/2/1/1.mvt?frt=confirmed", "/tiles/2/4/0.mvt"),
        (
            "/tiles/data.geojson",
            "/tiles/data.geojson?bbox=-10,40,10,60&zoom=5",
            "/tiles/data.geojson?zoom=x",
        ),
    ):
        await check(path, good)
        answer = await client.get(good)
        await check(path, good, {"If-None-Match": answer.headers["ETag"]})
        await check(path, bad)

    for path in ("/map", "/embed/map"):
        good = f"{path}?lang=en&kind=deployment&bbox=-74.3,40.5,-73.7,40.95&status=confirmed"
        await check(path, good)
        answer = await client.get(good)
        await check(path, good, {"If-None-Match": answer.headers["ETag"]})
        await check(path, f"{path}?lang=en&bbox=1,2,3")

    fonts = "/basemap/fonts/Noto%20Sans%20Regular"
    for path, url, missing in (
        ("/basemap/{name}", "/basemap/city.pmtiles", "/basemap/other.pmtiles"),
        ("/basemap/fonts/{fontstack}/{range}", f"{fonts}/0-255.pbf", f"{fonts}/256-511.pbf"),
        ("/basemap/sprites/{name}", "/basemap/sprites/light.png", "/basemap/sprites/dark.png"),
    ):
        answer = await check(path, url)
        etag = (await client.get(url)).headers["ETag"]
        await check(path, url, {"If-None-Match": etag})
        await check(path, url, {"Range": "bytes=0-3"})
        await check(path, url, {"Range": f"bytes={len(answer)}-"})
        await check(path, missing)

    ids = await publish_campaign(client.app)
    campaign_pages = (
        ("/agencies", "/agencies?country=ES&type=police&q=urbana&page=1", "/agencies?type=x"),
        ("/policies", "/policies?country=ES&status=in_force&instrument=ban", "/policies?page=0"),
        ("/requests", f"/requests?agency={ids.agency}&overdue=1", "/requests?agency=1"),
        ("/act", "/act?city=Barcelona&country=ES", "/act?near=me"),
        ("/agencies/{id}", f"/agencies/{ids.agency}?lang=es", f"/agencies/{ids.agency[:9]}"),
    )
    for path, good, bad in campaign_pages:
        await check(path, good)
        answer = await client.get(good)
        await check(path, good, {"If-None-Match": answer.headers["ETag"]})
        await check(path, bad)
    await check("/agencies/{id}", f"/agencies/{ids.private_agency}")

    documented = {
        (method, path, status)
        for path, operations in {**site_paths(), **campaign_site_paths()}.items()
        for method, operation in operations.items()
        if method in METHODS
        for status in operation["responses"]
    }
    assert documented - conformance.seen == set()
