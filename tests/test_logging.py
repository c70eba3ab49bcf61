"""Request logs: one summary line per request, and nothing that could identify a reporter.

A leaked log must not reveal who reported what (docs/threat-model.md): no record
content, no body bytes, no token, no IP address and no user agent.
"""

import hashlib
import re
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any

import msgpack
import pytest
import structlog
from aiohttp import ClientResponse
from structlog.typing import EventDict

from node.state import STORE
from protocol.keys import b64url_encode
from protocol.records import encode_batch
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import admit, feed, incident_body, seeded_key, signed
from tests.test_api_import import MSGPACK

USER_AGENT = "banscan-log-probe/9.9 (reporter-phone)"
FORWARDED_FOR = "203.0.113.77"
IPV4 = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")


def _new_incident(summary: str, **overrides: Any) -> dict[str, Any]:
    body = incident_body(summary=summary, **overrides)
    return {"kind": "incident", "audience": "public", "body": body}


@contextmanager
def captured() -> Iterator[list[EventDict]]:
    with structlog.testing.capture_logs() as events:
        yield events


def request_lines(events: list[EventDict]) -> list[EventDict]:
    return [e for e in events if e["event"] == "request"]


async def logged(request: Awaitable[ClientResponse]) -> tuple[ClientResponse, list[EventDict]]:
    """A request's response and the log events it caused."""
    with captured() as events:
        response = await request
        await response.read()
    return response, list(events)


def assert_one_request_line(
    events: list[EventDict], method: str, route: str, status: int
) -> dict[str, Any]:
    [line] = request_lines(events)
    assert line["method"] == method
    assert line["route"] == route
    assert line["status"] == status
    assert isinstance(line["duration_ms"], float | int)
    assert line["duration_ms"] >= 0
    assert line["log_level"] == "info"
    return dict(line)


@pytest.fixture
def client_headers() -> dict[str, str]:
    """What a reporter's phone would send: a user agent, and a proxy's forwarded address."""
    return {"User-Agent": USER_AGENT, "X-Forwarded-For": FORWARDED_FOR}


@pytest.mark.parametrize(
    ("kind", "status"), [("incident", 201), ("volcano", 422)], ids=["publish", "refused"]
)
async def test_publish_logs_one_request_line(
    client: NodeClient,
    tokens: dict[Role, str],
    client_headers: dict[str, str],
    kind: str,
    status: int,
) -> None:
    response, events = await logged(
        client.post(
            "/api/v1/records",
            json={"kind": kind, "audience": "public", "body": incident_body()},
            headers={**client_headers, **bearer(tokens[Role.PUBLISHER])},
        )
    )

    assert response.status == status
    assert_one_request_line(events, "POST", "/api/v1/records", status)


@pytest.mark.parametrize(("start", "status"), [(1, 200), (2, 409)], ids=["import", "seq gap"])
async def test_import_logs_one_request_line(
    client: NodeClient,
    tokens: dict[Role, str],
    client_headers: dict[str, str],
    start: int,
    status: int,
) -> None:
    batch = [signed(seeded_key("logged"), seq) for seq in range(start, start + 20)]
    await admit(client.app[STORE], seeded_key("logged").public_key)

    response, events = await logged(
        client.post(
            "/api/v1/records/import",
            data=encode_batch(batch),
            headers={**client_headers, "Content-Type": MSGPACK, **bearer(tokens[Role.ADMIN])},
        )
    )

    assert response.status == status
    assert_one_request_line(events, "POST", "/api/v1/records/import", status)


async def test_reads_and_failures_log_one_request_line_each(client: NodeClient) -> None:
    cases = [
        (client.get("/healthz"), "GET", "/healthz", 200),
        (client.get(f"/api/v1/records/{'0' * 64}"), "GET", "/api/v1/records/{id}", 404),
        (client.get("/api/v1/records?limit=0"), "GET", "/api/v1/records", 400),
        (client.post("/api/v1/records", json={}), "POST", "/api/v1/records", 401),
        (client.get("/api/v1/forks"), "GET", "/api/v1/forks", 401),
    ]
    for request, method, route, status in cases:
        response, events = await logged(request)
        assert response.status == status
        assert_one_request_line(events, method, route, status)

    _, events = await logged(client.get("/no/such/page"))
    [line] = request_lines(events)
    assert line["status"] == 404
    assert "/no/such/page" not in repr(line)


async def test_logs_never_hold_content_tokens_or_client_identity(
    client: NodeClient, tokens: dict[Role, str], client_headers: dict[str, str]
) -> None:
    published_summary = "Marcher Jane Q. Reporter was followed home on 5 May (publish)"
    imported_summary = "Witness Olu Example filmed the van on Oak Street (import)"
    refused_summary = "Caller Ana Sample, phone 555-0199, saw a drone (refused)"
    wrong_token = "bst_" + "w" * 43
    imported = [signed(seeded_key("witness"), 1, body=incident_body(summary=imported_summary))]
    imported_body = imported[0].body
    assert imported_body is not None
    refused = signed(seeded_key("refused"), 1, body=incident_body(summary=refused_summary))
    refused_body = refused.body
    assert refused_body is not None
    writer = {**client_headers, **bearer(tokens[Role.PUBLISHER])}
    importer = {**writer, "Content-Type": MSGPACK}
    refusing_key = seeded_key("refused")
    await admit(client.app[STORE], seeded_key("witness").public_key, refusing_key.public_key)
    schema_failure = signed(refusing_key, 1, body=msgpack.packb({"summary": refused_summary}))
    seq_gap = [refused, *feed(refusing_key, 3)[1:], signed(refusing_key, 9)]
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/v1/records", {"json": _new_incident(published_summary), "headers": writer}),
        (
            "POST",
            "/api/v1/records",
            {"json": _new_incident(refused_summary, lat_e7=1, lon_e7=2), "headers": writer},
        ),
        ("POST", "/api/v1/records/import", {"data": encode_batch(imported), "headers": importer}),
        (
            "POST",
            "/api/v1/records/import",
            {"data": encode_batch([schema_failure]), "headers": importer},
        ),
        ("POST", "/api/v1/records/import", {"data": encode_batch(seq_gap), "headers": importer}),
        ("GET", "/api/v1/records", {"headers": {**client_headers, **bearer(tokens[Role.ANALYST])}}),
        ("GET", "/api/v1/records", {"headers": {**client_headers, **bearer(wrong_token)}}),
        ("GET", "/api/v1/forks", {"headers": {**client_headers, **bearer(tokens[Role.ADMIN])}}),
    ]

    with captured() as events:
        statuses = []
        for method, path, options in requests:
            response = await client.request(method, path, **options)
            await response.read()
            statuses.append(response.status)

    assert statuses == [201, 422, 200, 422, 409, 200, 401, 200]
    assert len(request_lines(events)) == 8
    text = "\n".join(repr(sorted(event.items())) for event in events)
    secrets = [
        published_summary,
        imported_summary,
        refused_summary,
        "Jane",
        "Olu",
        "555-0199",
        *tokens.values(),
        wrong_token,
        USER_AGENT,
        "banscan-log-probe",
        FORWARDED_FOR,
        "127.0.0.1",
        repr(imported_body),
        imported_body.hex(),
        b64url_encode(imported_body),
        repr(refused_body)[:60],
        b64url_encode(refused_body)[:60],
        hashlib.sha256(imported_body).hexdigest(),
    ]
    for secret in secrets:
        assert secret not in text, f"the log holds {secret[:40]!r}"
    assert IPV4.search(text) is None
    for event in events:
        keys = {key.lower() for key in event}
        assert not keys & {"ip", "remote", "peer", "peername", "user_agent", "headers", "body"}
