"""The public site's routes answer what the OpenAPI document says, every status of it.

Each documented answer of each path of :func:`node.api.openapi.site.site_paths` is
produced by a real request to a real node, and its content type checked.
"""

from typing import Any

from node.api.openapi.site import site_paths
from tests.conftest import NodeClient
from tests.sitedata import CAMERA, INCIDENT, publish
from tests.test_api_openapi import METHODS, Conformance


async def test_every_documented_answer_of_the_site_is_real(client: NodeClient) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    conformance = Conformance(document)

    async def check(path: str, url: str, headers: dict[str, str] | None = None) -> Any:
        return await conformance.check("get", path, await client.get(url, headers=headers))

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

    documented = {
        (method, path, status)
        for path, operations in site_paths().items()
        for method, operation in operations.items()
        if method in METHODS
        for status in operation["responses"]
    }
    assert documented - conformance.seen == set()
