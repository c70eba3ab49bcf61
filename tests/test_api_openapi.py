"""The OpenAPI 3.1 document: valid, complete, and true to what the node really answers."""

import asyncio
import dataclasses
import functools
import io
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgpack
import pytest
from aiohttp import ClientResponse, web
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from federation.httpsig import MessageSigner, SignedRequest
from federation.httpsig import headers as signed_headers
from node import __version__
from node.api.openapi import openapi_document
from node.api.openapi.campaignsite import campaign_site_paths
from node.api.openapi.desk import desk_paths
from node.api.openapi.site import site_paths
from node.api.openapi.submissions import submission_paths
from node.campaignparams import CAMPAIGN_LISTS
from node.datadir import DataDir
from node.reads import CACHED_ROUTES, GATED_ROUTES
from node.state import FEDERATION
from protocol.keys import NodeKey
from protocol.records import encode_batch
from protocol.sync import (
    PullRequest,
    SyncRequest,
    Want,
    encode_pull_request,
    encode_sync_request,
    vector_digest,
)
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import feed, incident_body, seeded_key, signed
from tests.test_api_import import MSGPACK, import_batch
from tests.test_api_records import KIND_BODIES

METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


@pytest.fixture
async def document(client: NodeClient) -> dict[str, Any]:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    served: dict[str, Any] = await response.json()
    return served


def validator(document: dict[str, Any], schema: dict[str, Any]) -> OAS31Validator:
    """A validator for ``schema`` whose ``#/components/...`` refs resolve in ``document``."""
    return OAS31Validator({**schema, "components": document["components"]})


def component(document: dict[str, Any], name: str) -> OAS31Validator:
    return validator(document, {"$ref": f"#/components/schemas/{name}"})


def test_served_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)

    assert document["openapi"].startswith("3.1")
    assert document["info"]["version"] == __version__
    assert document == openapi_document(__version__)


def test_every_route_is_documented_and_every_documented_route_exists(
    app: web.Application, document: dict[str, Any]
) -> None:
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {
        (method, path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in METHODS
    }

    assert served == documented


def test_operations_have_ids_and_refs_resolve(document: dict[str, Any]) -> None:
    ids = [
        operation["operationId"]
        for operations in document["paths"].values()
        for method, operation in operations.items()
        if method in METHODS
    ]
    assert len(ids) == len(set(ids))
    refs = set(_refs(document))
    assert refs
    assert refs <= {f"#/components/schemas/{name}" for name in document["components"]["schemas"]}


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref":
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def test_new_record_schema_matches_what_the_node_accepts(document: dict[str, Any]) -> None:
    new_record = component(document, "NewRecord")
    for kind, body in KIND_BODIES.items():
        assert new_record.is_valid({"kind": kind, "audience": "public", "body": body})
    assert not new_record.is_valid({"kind": "incident", "audience": "public"})
    assert not new_record.is_valid({"kind": "incident", "audience": "public", "body": {}, "seq": 3})
    assert not new_record.is_valid({"kind": "incident", "audience": "friends", "body": {}})


def test_kind_body_schemas_are_not_shadowed_by_api_schemas(document: dict[str, Any]) -> None:
    """Each kind's body validates against the schema Record.body points to for it."""
    record_body = document["components"]["schemas"]["Record"]["properties"]["body"]
    for body in KIND_BODIES.values():
        matches = [
            option["$ref"]
            for option in record_body["oneOf"]
            if "$ref" in option and validator(document, option).is_valid(body)
        ]
        assert len(matches) == 1, (body, matches)


class Conformance:
    """Checks real responses against the document and remembers which answers were seen."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.seen: set[tuple[str, str, str]] = set()

    async def check(self, method: str, path: str, response: ClientResponse) -> Any:
        status = str(response.status)
        operation = self.document["paths"][path][method]
        assert status in operation["responses"], f"{method} {path} answered undocumented {status}"
        if "content" not in operation["responses"][status]:
            assert await response.read() == b"", f"{method} {path} {status} has a body"
            self.seen.add((method, path, status))
            return None
        content = operation["responses"][status]["content"]
        if "Content-Type" not in response.headers and path.startswith("/federation/"):
            # A federation answer is msgpack and says so by sending no Content-Type.
            assert status == "200", (method, path, status)
            self.seen.add((method, path, status))
            return msgpack.unpackb(await response.read())
        assert response.content_type in content, (method, path, status, response.content_type)
        if response.content_type in ("text/plain", "text/html", "text/css", "text/javascript"):
            self.seen.add((method, path, status))
            return await response.text()
        if response.content_type == "application/vnd.mapbox-vector-tile":
            # The map's tiles: protobuf, decoded by tests/test_map_tiles.py.
            self.seen.add((method, path, status))
            return await response.read()
        if content[response.content_type]["schema"].get("format") == "binary":
            # Files served as they are: a signed-record bundle, the operator's basemap,
            # its fonts and sprites; checked by their own tests.
            self.seen.add((method, path, status))
            return await response.read()
        if response.content_type == MSGPACK:
            # Federation answers: msgpack whose messages docs/protocol.md specifies.
            self.seen.add((method, path, status))
            return msgpack.unpackb(await response.read())
        body = await response.json(content_type=None)
        schema = content[response.content_type]["schema"]
        errors = [e.message for e in validator(self.document, schema).iter_errors(body)]
        assert not errors, f"{method} {path} {status}: {errors}"
        self.seen.add((method, path, status))
        return body


async def test_real_responses_match_their_documented_schemas(
    client: NodeClient, tokens: dict[Role, str], document: dict[str, Any]
) -> None:
    conformance = Conformance(document)
    check = conformance.check
    admin, analyst = bearer(tokens[Role.ADMIN]), bearer(tokens[Role.ANALYST])
    records, one = "/api/v1/records", "/api/v1/records/{id}"
    importing = "/api/v1/records/import"

    await check("get", "/healthz", await client.get("/healthz"))
    await check("get", "/api/v1/openapi.json", await client.get("/api/v1/openapi.json"))
    await check("get", "/api/v1/node", await client.get("/api/v1/node"))
    await check("get", "/metrics", await client.get("/metrics"))
    relayed = {"X-Forwarded-For": "203.0.113.7"}
    await check("get", "/metrics", await client.get("/metrics", headers=relayed))

    created = []
    for kind, body in KIND_BODIES.items():
        payload = {"kind": kind, "audience": "public", "body": body}
        created.append(
            await check("post", records, await client.post(records, json=payload, headers=admin))
        )
    bad_publishes: list[tuple[dict[str, str], Any, str | None]] = [
        (admin, {"kind": "incident"}, None),
        ({}, {"kind": "incident", "audience": "public", "body": incident_body()}, None),
        (analyst, {"kind": "incident", "audience": "public", "body": incident_body()}, None),
        (admin, {"kind": "incident", "audience": "public", "body": {}}, None),
        (admin, {"kind": "incident", "audience": "public", "body": {}}, "text/plain"),
        (
            admin,
            {
                "kind": "incident",
                "audience": "public",
                "body": incident_body(
                    sources=[{"url": "https://example.org/" + "a" * 2000}] * 50,
                    summary="s" * 20_000,
                ),
            },
            None,
        ),
    ]
    for headers, payload, content_type in bad_publishes:
        if content_type is None:
            response = await client.post(records, json=payload, headers=headers)
        else:
            response = await client.post(
                records, data=b"{}", headers={**headers, "Content-Type": content_type}
            )
        await check("post", records, response)

    key = seeded_key("other chapter")
    good = [*feed(key, 3), signed(key, 1, kind="petition", audience="network", body=b"\x80")]
    await check("post", importing, await import_batch(client, tokens[Role.PUBLISHER], good))
    fork = [signed(key, 1, created_ms=5)]
    await check("post", importing, await import_batch(client, tokens[Role.PUBLISHER], fork))
    for batch in (
        b"\xc1",
        [signed(key, 9)],
        feed(seeded_key("many"), 501),
        [signed(seeded_key("bad body"), 1, body=incident_body(country="XX"))],
    ):
        await check("post", importing, await import_batch(client, tokens[Role.PUBLISHER], batch))
    await check("post", importing, await import_batch(client, tokens[Role.ANALYST], b"\x90"))
    await check(
        "post",
        importing,
        await client.post(importing, data=b"\x90", headers={"Content-Type": MSGPACK}),
    )
    await check(
        "post",
        importing,
        await import_batch(client, tokens[Role.ADMIN], b"\x90", content_type="application/json"),
    )

    page = await check("get", records, await client.get(records, headers=admin))
    assert {r["kind"] for r in page["records"]} == {*KIND_BODIES, "petition"}
    assert next(r for r in page["records"] if r["kind"] == "petition")["body"] is None
    await check("get", records, await client.get(records, params={"limit": "0"}))
    await check("get", records, await client.get(records, headers=bearer("bst_unknown")))

    first = created[0]["id"]
    await check("get", one, await client.get(f"{records}/{first}"))
    await check("get", one, await client.get(f"{records}/NOT-AN-ID"))
    await check("get", one, await client.get(f"{records}/{'0' * 64}"))
    await check("get", one, await client.get(f"{records}/{first}", headers=bearer("bst_unknown")))

    forks = await check("get", "/api/v1/forks", await client.get("/api/v1/forks", headers=admin))
    assert len(forks["forks"]) == 1
    await check("get", "/api/v1/forks", await client.get("/api/v1/forks"))
    await check("get", "/api/v1/forks", await client.get("/api/v1/forks", headers=analyst))

    peers = "/api/v1/federation/peers"
    assert (await check("get", peers, await client.get(peers, headers=analyst))) == {"peers": []}
    await check("get", peers, await client.get(peers))

    lists = ("/api/v1/incidents", "/api/v1/deployments", "/api/v1/stats", "/api/v1/coverage")
    campaign = [f"/api/v1/{plural}" for plural in CAMPAIGN_LISTS] + [
        "/api/v1/actions/osdi",
        "/api/v1/stats/campaign",
    ]
    for path in (*lists, *campaign):
        await check("get", path, await client.get(path, headers=analyst))
        await check("get", path, await client.get(path, params={"colour": "red"}))
        await check("get", path, await client.get(path, headers=bearer("bst_unknown")))
    stats = {"group_by": "country,origin,week", "kind": "incident"}
    await check("get", "/api/v1/stats", await client.get("/api/v1/stats", params=stats))
    # Anonymous answers carry validators; sent back, they are answered 304.
    for path, url in [(p, p) for p in CACHED_ROUTES if "{" not in p] + [
        (one, one.format(id=created[0]["id"]))
    ]:
        first = await client.get(url)
        assert first.status == 200, path
        assert first.headers["ETag"], path
        again = {"If-None-Match": first.headers["ETag"]}
        await check("get", path, await client.get(url, headers=again))

    export = "/api/v1/export"
    for fmt in ("csv", "geojson", "ndjson", "bundle"):
        response = await client.get(export, params={"format": fmt, "kind": "incident"})
        assert response.status == 200
        documented_types = document["paths"][export]["get"]["responses"]["200"]["content"]
        assert response.content_type in documented_types
        await response.read()
    conformance.seen.add(("get", export, "200"))
    await check("get", export, await client.get(export, params={"format": "xls", "kind": "x"}))
    incidents_csv = {"format": "csv", "kind": "incident"}
    unknown = bearer("bst_unknown")
    await check("get", export, await client.get(export, params=incidents_csv, headers=unknown))

    documented = {
        (method, path, status)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in METHODS
        for status in operation["responses"]
    }
    # A failing database cannot be arranged from outside without breaking the node.
    # The federation routes are checked by the next test, the routes of reports and
    # their moderation by tests/test_submissions_openapi.py, the desk's by
    # tests/test_desk_openapi.py.
    # The site's pages, by tests/test_site_openapi.py.
    elsewhere = (
        set(submission_paths()) | set(desk_paths()) | set(site_paths()) | set(campaign_site_paths())
    )
    missed = {
        seen
        for seen in documented - conformance.seen
        if FEDERATION_PREFIX not in seen[1] and seen[1] not in elsewhere
    }
    # Busy (503) needs more anonymous readers queued than the gate holds: see
    # tests/test_reads.py.
    busy = {("get", path, "503") for path in GATED_ROUTES}
    assert missed == {("get", "/healthz", "503"), *busy}


FEDERATION_PREFIX = "/federation/v1/"


async def test_federation_answers_match_their_documented_statuses(
    client: NodeClient, data_dir: DataDir, document: dict[str, Any]
) -> None:
    conformance = Conformance(document)
    node_key = data_dir.load_key()
    pull = encode_pull_request(PullRequest((Want(node_key.public_key, "public", 0, 1),), 10))
    good = {
        "sync": encode_sync_request(SyncRequest(("public",), vector_digest({}))),
        "records": pull,
        "push": encode_batch([]),
    }

    async def post(
        route: str, body: bytes, key: NodeKey | None = None, content_type: str = MSGPACK
    ) -> ClientResponse:
        path = FEDERATION_PREFIX + route
        url = str(client.make_url(path))
        request = SignedRequest("POST", url, signed_headers([("Content-Type", content_type)]))
        if key is not None:
            MessageSigner(key, "banthescan", time.time).sign_request(request, body)
        return await client.post(path, data=io.BytesIO(body), headers=dict(request.headers))

    # A body that never ends: the node gives up after timeout_s (1 s here).
    federation = client.app[FEDERATION]
    federation.settings = dataclasses.replace(federation.settings, timeout_s=1)
    never = asyncio.Event()

    async def unfinished() -> AsyncIterator[bytes]:
        yield b"\x93"
        await never.wait()

    async def post_unfinished(route: str) -> ClientResponse:
        return await client.post(
            FEDERATION_PREFIX + route, data=unfinished(), headers={"Content-Type": MSGPACK}
        )

    outsider = seeded_key("not a member")
    too_big = b"\x00" * (5 << 20)
    for route, body in good.items():
        for public in (False, True):
            if public and route == "push":
                continue
            name = f"public/{route}" if public else route
            key = None if public else node_key
            check = functools.partial(conformance.check, "post", FEDERATION_PREFIX + name)
            await check(await post(name, body, key))
            await check(await post(name, b"\xc1", key))
            await check(await post(name, too_big, key))
            await check(await post(name, body, key, content_type="text/plain"))
            await check(await post_unfinished(name))
            if public:
                network = (
                    encode_sync_request(SyncRequest(("network",), vector_digest({})))
                    if route == "sync"
                    else encode_pull_request(
                        PullRequest((Want(node_key.public_key, "network", 0, 1),), 10)
                    )
                )
                await check(await post(name, network))
            else:
                await check(await post(name, body))
                await check(await post(name, body, outsider))
            slots = client.app[FEDERATION].slots
            held = 0
            while not slots.locked():
                await slots.acquire()
                held += 1
            await check(await post(name, body, key))
            for _ in range(held):
                slots.release()

    documented = {
        (method, path, status)
        for path, operations in document["paths"].items()
        if path.startswith(FEDERATION_PREFIX)
        for method, operation in operations.items()
        for status in operation["responses"]
    }
    assert documented - conformance.seen == set()


async def test_problem_responses_are_problem_schema(
    client: NodeClient, document: dict[str, Any]
) -> None:
    problem = component(document, "Problem")
    for response in [
        await client.get("/nowhere"),
        await client.delete("/api/v1/records"),
        await client.post("/api/v1/records/import", data=msgpack.packb([])),
    ]:
        body = await response.json(content_type="application/problem+json")
        assert problem.is_valid(body), body
        assert body["type"].startswith("urn:banscan:problem:")
