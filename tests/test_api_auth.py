"""Bearer tokens and roles over HTTP: who may write, who may read which audience."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientResponse

from node.datadir import DataDir
from node.state import STORE
from protocol.records import encode_batch
from storage.tokens import TOKEN_PREFIX, Role
from tests.conftest import NodeClient, bearer
from tests.factories import admit, feed, incident_body, seeded_key, signed
from tests.nodeproc import banscan
from tests.test_api_import import (
    MSGPACK,
    StoreState,
    admitted_hidden,
    expect_problem,
    import_batch,
    list_all,
    seed_resident,
    store_state,
)

Request = Callable[[NodeClient, dict[str, str]], Awaitable[ClientResponse]]


async def _publish(client: NodeClient, headers: dict[str, str]) -> ClientResponse:
    payload = {"kind": "incident", "audience": "public", "body": incident_body()}
    return await client.post("/api/v1/records", json=payload, headers=headers)


async def _import(client: NodeClient, headers: dict[str, str]) -> ClientResponse:
    data = encode_batch(feed(seeded_key("importer"), 3))
    return await client.post(
        "/api/v1/records/import", data=data, headers={"Content-Type": MSGPACK, **headers}
    )


async def _forks(client: NodeClient, headers: dict[str, str]) -> ClientResponse:
    return await client.get("/api/v1/forks", headers=headers)


async def _list(client: NodeClient, headers: dict[str, str]) -> ClientResponse:
    return await client.get("/api/v1/records", headers=headers)


PROTECTED: dict[str, Request] = {"publish": _publish, "import": _import, "forks": _forks}
WRITES: dict[str, Request] = {"publish": _publish, "import": _import}
ANY_ROUTE: dict[str, Request] = {**PROTECTED, "list": _list}


@pytest.fixture
async def resident(client: NodeClient, tokens: dict[Role, str]) -> StoreState:
    return await seed_resident(client, tokens)


async def expect_unauthorized(response: ClientResponse, *mentions: str) -> None:
    await expect_problem(response, 401, "unauthorized", *mentions)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route", list(PROTECTED.values()), ids=list(PROTECTED))
async def test_no_token_is_401_with_a_challenge(
    client: NodeClient, tokens: dict[Role, str], resident: StoreState, route: Request
) -> None:
    await expect_unauthorized(await route(client, {}), "needs a bearer token")
    assert await store_state(client, tokens[Role.ADMIN]) == resident


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token abc", "bst_no_scheme", "Bearer tök"],
)
@pytest.mark.parametrize("route", list(ANY_ROUTE.values()), ids=list(ANY_ROUTE))
async def test_malformed_authorization_is_401(
    client: NodeClient,
    tokens: dict[Role, str],
    resident: StoreState,
    route: Request,
    header: str,
) -> None:
    response = await route(client, {"Authorization": header})

    await expect_unauthorized(response, "Bearer <token>")
    assert await store_state(client, tokens[Role.ADMIN]) == resident


@pytest.mark.parametrize("route", list(ANY_ROUTE.values()), ids=list(ANY_ROUTE))
async def test_unknown_token_is_401(
    client: NodeClient, tokens: dict[Role, str], resident: StoreState, route: Request
) -> None:
    almost = tokens[Role.ADMIN][:-1] + ("A" if tokens[Role.ADMIN][-1] != "A" else "B")
    for token in [TOKEN_PREFIX + "A" * 43, almost, tokens[Role.ADMIN].upper()]:
        response = await route(client, bearer(token))
        await expect_unauthorized(response, "not known")
    assert await store_state(client, tokens[Role.ADMIN]) == resident


async def test_undecodable_authorization_bytes_are_401(client: NodeClient) -> None:
    """Raw bytes that are not UTF-8 reach the handler as surrogates; they must not be a 500."""
    assert client.server.host is not None
    for value in [b"Bearer \xff\xfe", b"Bearer bst_\xe9"]:
        reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
        writer.write(
            b"GET /api/v1/records HTTP/1.1\r\nHost: node\r\nConnection: close\r\n"
            b"Authorization: " + value + b"\r\n\r\n"
        )
        await writer.drain()
        answer = await reader.read()
        writer.close()
        await writer.wait_closed()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 401 "), answer[:300]
        assert b"application/problem+json" in head
        assert b"urn:banscan:problem:unauthorized" in body


@pytest.mark.parametrize("role", [Role.ANALYST, Role.MODERATOR])
@pytest.mark.parametrize("route", list(WRITES.values()), ids=list(WRITES))
async def test_readers_may_not_write(
    client: NodeClient, tokens: dict[Role, str], resident: StoreState, route: Request, role: Role
) -> None:
    response = await route(client, bearer(tokens[role]))

    await expect_problem(response, 403, "forbidden", role.value, "admin or publisher")
    assert await store_state(client, tokens[Role.ADMIN]) == resident


@pytest.mark.parametrize("role", [Role.PUBLISHER, Role.ADMIN])
async def test_writers_may_publish_and_import(
    client: NodeClient, tokens: dict[Role, str], role: Role
) -> None:
    await admit(client.app[STORE], seeded_key("importer").public_key)
    published = await _publish(client, bearer(tokens[role]))
    assert published.status == 201, await published.text()
    imported = await _import(client, bearer(tokens[role]))
    assert imported.status == 200, await imported.text()
    assert (await imported.json())["accepted"] == 3


@pytest.mark.parametrize("role", [Role.PUBLISHER, Role.MODERATOR, Role.ANALYST])
async def test_forks_need_an_admin(client: NodeClient, tokens: dict[Role, str], role: Role) -> None:
    refused = await _forks(client, bearer(tokens[role]))
    await expect_problem(refused, 403, "forbidden", role.value, "needs admin")

    allowed = await _forks(client, bearer(tokens[Role.ADMIN]))
    assert allowed.status == 200
    assert await allowed.json() == {"forks": []}


@pytest.fixture
async def audiences(client: NodeClient, tokens: dict[Role, str]) -> dict[str, str]:
    """One record per audience, from another origin; audience -> record id."""
    key = seeded_key("audiences")
    records = {a: signed(key, 1, audience=a) for a in ("public", "network", "coordinators")}
    response = await import_batch(client, tokens[Role.ADMIN], list(records.values()))
    assert response.status == 200, await response.text()
    return {audience: record.id.hex() for audience, record in records.items()}


async def test_without_a_token_only_public_records_are_visible(
    client: NodeClient, audiences: dict[str, str]
) -> None:
    page = await (await client.get("/api/v1/records")).json()
    assert [r["id"] for r in admitted_hidden(page["records"])] == [audiences["public"]]
    assert page["audiences"] == ["public"]
    assert [r["id"] for r in await list_all(client, None, "&kind=incident")] == [
        audiences["public"]
    ]

    public = await client.get(f"/api/v1/records/{audiences['public']}")
    assert public.status == 200
    for hidden in ("network", "coordinators"):
        response = await client.get(f"/api/v1/records/{audiences[hidden]}")
        await expect_problem(response, 404, "not-found", audiences[hidden])
        asked = await client.get("/api/v1/records", params={"audience": hidden})
        problem = await expect_problem(asked, 400, "bad-parameter", "needs a bearer token")
        assert problem["parameter"] == "audience"


@pytest.mark.parametrize("role", list(Role))
async def test_any_valid_token_sees_every_audience(
    client: NodeClient, tokens: dict[Role, str], audiences: dict[str, str], role: Role
) -> None:
    headers = bearer(tokens[role])

    page: dict[str, Any] = await (await client.get("/api/v1/records", headers=headers)).json()

    assert {r["id"]: r["audience"] for r in admitted_hidden(page["records"])} == {
        record_id: audience for audience, record_id in audiences.items()
    }
    assert set(page["audiences"]) == {"public", "network", "coordinators"}
    for audience, record_id in audiences.items():
        response = await client.get(f"/api/v1/records/{record_id}", headers=headers)
        assert response.status == 200, await response.text()
        assert (await response.json())["audience"] == audience
        filtered = await client.get(
            "/api/v1/records", params={"audience": audience}, headers=headers
        )
        listed = admitted_hidden((await filtered.json())["records"])
        assert [r["id"] for r in listed] == [record_id]


@pytest.mark.parametrize("route", list(WRITES.values()), ids=list(WRITES))
async def test_a_writer_token_revoked_by_another_process_writes_nothing(
    client: NodeClient, tokens: dict[Role, str], data_dir: DataDir, route: Request
) -> None:
    """Writers' tokens are remembered after their first use (storage/tokens.py); one
    revoked meanwhile by ``banscan token revoke``, in another process, is still refused,
    by the write's own transaction."""
    await admit(client.app[STORE], seeded_key("importer").public_key)
    token = tokens[Role.PUBLISHER]
    first = await _publish(client, bearer(token))
    assert first.status == 201, await first.text()
    before = await store_state(client, tokens[Role.ADMIN])

    revoked = banscan("token", "revoke", "--data-dir", str(data_dir.path), input_text=token)
    assert revoked.returncode == 0, revoked.stderr

    for _ in range(2):  # refused, then no longer remembered: refused again
        await expect_unauthorized(await route(client, bearer(token)), "not known")
    assert await store_state(client, tokens[Role.ADMIN]) == before


async def test_a_writer_token_revoked_here_is_forgotten(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    token = tokens[Role.ADMIN]
    published = await _publish(client, bearer(token))
    assert published.status == 201, await published.text()

    assert await client.app[STORE].tokens.revoke(token)

    await expect_unauthorized(await _publish(client, bearer(token)), "not known")
