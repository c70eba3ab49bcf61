"""Publishing and reading records over HTTP, against a real node and SQLite file."""

import asyncio
import datetime
import json
from dataclasses import dataclass
from typing import Any

import pytest

from node import __version__
from node.state import NODE_KEY, STORE
from protocol.keys import b64url_decode, b64url_encode
from protocol.kinds import validate_body
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, verify_record
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import (
    NETWORK,
    STEWARD,
    action_body,
    agency_body,
    deployment_body,
    feed,
    incident_body,
    policy_body,
    records_request_body,
    seeded_key,
    signed,
    vendor_body,
)
from tests.test_api_import import (
    PROBLEM,
    StoreState,
    admitted_hidden,
    expect_problem,
    import_batch,
    list_all,
    seed_resident,
    store_state,
)

RECORDS = "/api/v1/records"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)

KIND_BODIES: dict[str, dict[str, Any]] = {
    "incident": incident_body(),
    "deployment": deployment_body(),
    "retraction": {"target": "ab" * 32, "reason": "error", "note": "Filed twice."},
    "membership": {
        "subject": seeded_key("member").text,
        "action": "admit",
        "role": "chapter",
        "name": "Ban the Scan Leeds",
        "city": "Leeds",
        "country": "GB",
    },
    "node": {"urls": ["https://leeds.example.org"], "name": "Leeds node", "country": "GB"},
    "agency": agency_body(),
    "vendor": vendor_body(),
    "policy": policy_body(),
    "records_request": records_request_body(),
    "action": action_body(),
}


@pytest.fixture
async def resident(client: NodeClient, tokens: dict[Role, str]) -> StoreState:
    return await seed_resident(client, tokens)


async def publish(
    client: NodeClient, token: str, kind: str, audience: str = "public", body: Any = None
) -> dict[str, Any]:
    response = await client.post(
        RECORDS,
        json={
            "kind": kind,
            "audience": audience,
            "body": KIND_BODIES[kind] if body is None else body,
        },
        headers=bearer(token),
    )
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


def rfc3339(ms: int, *, offset_hours: int = 0, zulu: bool = False) -> str:
    zone = datetime.timezone(datetime.timedelta(hours=offset_hours))
    text = (EPOCH + datetime.timedelta(milliseconds=ms)).astimezone(zone).isoformat()
    return text.replace("+00:00", "Z") if zulu else text


# --- publish ------------------------------------------------------------------------------


# The role each kind's example needs (docs/api.md, "What each role may publish"): the
# retraction names a record this node did not sign; membership is the command line's.
PUBLISHED_BY = {
    "incident": Role.PUBLISHER,
    "deployment": Role.PUBLISHER,
    "retraction": Role.ADMIN,
    "node": Role.PUBLISHER,
}


@pytest.mark.parametrize("kind", list(PUBLISHED_BY))
async def test_publish_answers_201_with_location_and_a_record_anyone_can_verify(
    client: NodeClient, tokens: dict[Role, str], kind: str
) -> None:
    response = await client.post(
        RECORDS,
        json={"kind": kind, "audience": "network", "body": KIND_BODIES[kind]},
        headers=bearer(tokens[PUBLISHED_BY[kind]]),
    )

    assert response.status == 201, await response.text()
    created = await response.json()
    assert response.headers["Location"] == f"{RECORDS}/{created['id']}"
    signed_parts = created["signed"]
    assert signed_parts["body"] is not None
    record = SignedRecord(
        b64url_decode(signed_parts["envelope"]),
        b64url_decode(signed_parts["signature"]),
        b64url_decode(signed_parts["body"]),
    )
    verified = verify_record(record, network_id=NETWORK, limits=DEFAULT_LIMITS)
    node_key = client.app[NODE_KEY]
    assert verified.id.hex() == created["id"]
    assert verified.envelope.origin == node_key.public_key
    assert created["origin"] == node_key.text
    assert (created["kind"], created["audience"], created["seq"]) == (kind, "network", 1)
    assert verified.envelope.created_ms == created["created_ms"]
    assert verified.content == validate_body(kind, KIND_BODIES[kind])
    assert validate_body(kind, created["body"]) == verified.content
    assert created["erased"] is False

    fetched = await client.get(response.headers["Location"], headers=bearer(tokens[Role.ANALYST]))
    assert fetched.status == 200
    assert await fetched.json() == created


async def test_seq_counts_up_in_each_audience_feed_on_its_own(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    audiences = ["public", "network", "public", "coordinators", "public", "network"]

    created = [await publish(client, tokens[Role.ADMIN], "incident", a) for a in audiences]

    assert [c["seq"] for c in created] == [1, 1, 2, 1, 3, 2]
    feeds = {(a, seq) for _, a, seq in await client.app[STORE].records.feeds()}
    assert feeds == {("public", 3), ("network", 2), ("coordinators", 1)}


def _body(**overrides: Any) -> bytes:
    payload: dict[str, Any] = {"kind": "incident", "audience": "public", "body": incident_body()}
    payload.update(overrides)
    return json.dumps(payload).encode()


def _oversized_incident() -> bytes:
    url = "https://archive.example.org/" + "a" * 2000
    sources = [{"url": url, "archived_url": url} for _ in range(50)]
    return _body(body=incident_body(sources=sources))


@dataclass(frozen=True)
class BadPublish:
    data: bytes
    status: int
    code: str
    mentions: tuple[str, ...]
    content_type: str = "application/json"


BAD_PUBLISHES = {
    "not JSON": BadPublish(b'{"kind": incident', 400, "bad-request", ("not valid JSON",)),
    "nested too deeply": BadPublish(b"[" * 100_000, 400, "bad-request", ("nested",)),
    "JSON array": BadPublish(b"[]", 400, "bad-request", ("JSON object",)),
    "text/plain": BadPublish(
        _body(), 415, "unsupported-media-type", ("application/json",), "text/plain"
    ),
    "octet-stream": BadPublish(
        _body(), 415, "unsupported-media-type", ("application/json",), "application/octet-stream"
    ),
    "missing body": BadPublish(
        json.dumps({"kind": "incident", "audience": "public"}).encode(),
        400,
        "bad-request",
        ("missing field: body",),
    ),
    "missing kind": BadPublish(
        json.dumps({"audience": "public", "body": incident_body()}).encode(),
        400,
        "bad-request",
        ("missing field: kind",),
    ),
    "unknown field": BadPublish(_body(seq=9), 400, "bad-request", ("unknown field(s): seq",)),
    "unknown kind": BadPublish(_body(kind="rumour"), 422, "invalid-body", ("'rumour'",)),
    "kind not a string": BadPublish(_body(kind=7), 422, "invalid-body", ("kind",)),
    "unknown audience": BadPublish(
        _body(audience="friends"), 400, "unknown-audience", ("'friends'",)
    ),
    "body not an object": BadPublish(_body(body=["a"]), 422, "invalid-body", ("JSON object",)),
    "incident with exact point": BadPublish(
        _body(body=incident_body(lat_e7=1, lon_e7=2)), 422, "invalid-body", ("lat_e7", "lon_e7")
    ),
    "geohash over 6 characters": BadPublish(
        _body(body=incident_body(area="dr5ru7xy")), 422, "invalid-body", ("area", "not 8")
    ),
    "country not ISO 3166-1": BadPublish(
        _body(body=incident_body(country="XX")), 422, "invalid-body", ("country",)
    ),
    "missing summary": BadPublish(
        _body(body={k: v for k, v in incident_body().items() if k != "summary"}),
        422,
        "invalid-body",
        ("summary", "required"),
    ),
    "float coordinates": BadPublish(
        _body(kind="deployment", body=deployment_body(lat_e7=40.758)),
        422,
        "invalid-body",
        ("lat_e7",),
    ),
    "unknown body field": BadPublish(
        _body(body=incident_body(reporter="Jane")), 422, "invalid-body", ("reporter",)
    ),
    "body over the size limit": BadPublish(
        _oversized_incident(), 413, "too-large", ("body is", "65536")
    ),
}


@pytest.mark.parametrize("case", list(BAD_PUBLISHES.values()), ids=list(BAD_PUBLISHES))
async def test_bad_publish_is_refused_by_name_and_stores_nothing(
    client: NodeClient, tokens: dict[Role, str], resident: StoreState, case: BadPublish
) -> None:
    response = await client.post(
        RECORDS,
        data=case.data,
        headers={"Content-Type": case.content_type, **bearer(tokens[Role.PUBLISHER])},
    )

    await expect_problem(response, case.status, case.code, *case.mentions)
    assert await store_state(client, tokens[Role.ADMIN]) == resident


# --- one record -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record_id",
    ["xyz", "AB" * 32, "ab" * 31, "ab" * 33, "zz" * 32, "%20" + "ab" * 31],
    ids=["short junk", "upper case", "63 chars", "66 chars", "not hex", "leading space"],
)
async def test_get_with_a_malformed_id_is_400_naming_the_id(
    client: NodeClient, record_id: str
) -> None:
    response = await client.get(f"{RECORDS}/{record_id}")

    problem = await expect_problem(response, 400, "bad-parameter", "id:", "64 lowercase hex")
    assert problem["parameter"] == "id"


async def test_get_an_unknown_record_is_404(client: NodeClient, tokens: dict[Role, str]) -> None:
    response = await client.get(f"{RECORDS}/{'00' * 32}", headers=bearer(tokens[Role.ADMIN]))

    await expect_problem(response, 404, "not-found", "00" * 32)


# --- lists ----------------------------------------------------------------------------------

KEY_A, KEY_B = seeded_key("chapter a"), seeded_key("chapter b")
# name -> record, in the order they are imported (arrival order)
CORPUS = {
    **{
        f"a-incident-{seq}": signed(KEY_A, seq, created_ms=1_700_000_000_000) for seq in range(1, 4)
    },
    **{
        f"a-deployment-{seq}": signed(
            KEY_A,
            seq,
            kind="deployment",
            audience="network",
            body=deployment_body(),
            created_ms=1_700_000_100_000,
        )
        for seq in range(1, 3)
    },
    **{
        f"b-deployment-{seq}": signed(
            KEY_B, seq, kind="deployment", body=deployment_body(), created_ms=1_800_000_000_000
        )
        for seq in range(1, 3)
    },
    "b-incident-1": signed(KEY_B, 1, audience="coordinators", created_ms=1_800_000_000_000),
}
NAMES = {record.id.hex(): name for name, record in CORPUS.items()}


@pytest.fixture
async def corpus(client: NodeClient, tokens: dict[Role, str]) -> None:
    # One record per batch: within a batch the node stores in feed order, not request order.
    for record in CORPUS.values():
        response = await import_batch(client, tokens[Role.ADMIN], [record])
        assert response.status == 200, await response.text()


LIST_QUERIES: list[tuple[dict[str, str], list[str]]] = [
    ({}, list(CORPUS)),
    ({"kind": "incident"}, ["a-incident-1", "a-incident-2", "a-incident-3", "b-incident-1"]),
    ({"kind": "incident,deployment"}, list(CORPUS)),
    ({"kind": "retraction"}, []),
    ({"origin": KEY_B.text}, ["b-deployment-1", "b-deployment-2", "b-incident-1"]),
    ({"audience": "network"}, ["a-deployment-1", "a-deployment-2"]),
    ({"audience": "coordinators"}, ["b-incident-1"]),
    ({"since": "1800000000000"}, ["b-deployment-1", "b-deployment-2", "b-incident-1"]),
    ({"since": "1800000000002"}, ["b-deployment-2"]),
    ({"since": rfc3339(1_800_000_000_002)}, ["b-deployment-2"]),
    ({"since": rfc3339(1_800_000_000_002, zulu=True)}, ["b-deployment-2"]),
    ({"since": rfc3339(1_800_000_000_002, offset_hours=-5)}, ["b-deployment-2"]),
    ({"since": rfc3339(1_800_000_000_003)}, []),
    ({"kind": "deployment", "origin": KEY_A.text}, ["a-deployment-1", "a-deployment-2"]),
    (
        {"kind": "incident", "audience": "public", "origin": KEY_A.text},
        ["a-incident-1", "a-incident-2", "a-incident-3"],
    ),
    # By kind, which leaves out the test steward's admissions of A and B.
    ({"limit": "3", "kind": "incident"}, ["a-incident-1", "a-incident-2", "a-incident-3"]),
]


def _query_id(query: dict[str, str]) -> str:
    names = {KEY_A.text: "A", KEY_B.text: "B"}
    return "&".join(f"{k}={names.get(v, v)}" for k, v in query.items()) or "everything"


@pytest.mark.parametrize(
    ("query", "expected"), LIST_QUERIES, ids=[_query_id(q) for q, _ in LIST_QUERIES]
)
async def test_list_filters(
    client: NodeClient,
    tokens: dict[Role, str],
    corpus: None,
    query: dict[str, str],
    expected: list[str],
) -> None:
    response = await client.get(RECORDS, params=query, headers=bearer(tokens[Role.ANALYST]))

    assert response.status == 200, await response.text()
    page = await response.json()
    assert [NAMES[r["id"]] for r in admitted_hidden(page["records"])] == expected
    assert (page["next_cursor"] is not None) == (query.get("limit") == "3")


async def test_since_is_exact_to_the_millisecond(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    # timestamp() * 1000 rounds this instant down to ...079 ms.
    moment = 1_087_632_395_080
    key = seeded_key("exact")
    before, at = signed(key, 1, created_ms=moment - 2), signed(key, 2, created_ms=moment - 2)
    response = await import_batch(client, tokens[Role.ADMIN], [before, at])
    assert response.status == 200, await response.text()

    for since, expected in [
        (str(moment), [at.id.hex()]),
        ("2004-06-19T08:06:35.080Z", [at.id.hex()]),
        ("2004-06-19T10:06:35.080+02:00", [at.id.hex()]),
        ("2004-06-19T08:06:35.079Z", [before.id.hex(), at.id.hex()]),
        ("2004-06-19T08:06:35.081Z", []),
    ]:
        page = await client.get(RECORDS, params={"since": since})
        listed = admitted_hidden((await page.json())["records"])
        assert [r["id"] for r in listed] == expected, since


async def test_cursor_walk_has_no_gaps_or_repeats_while_records_arrive(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    key = seeded_key("busy chapter")
    records = feed(key, 40)
    response = await import_batch(client, tokens[Role.ADMIN], records[:25])
    assert response.status == 200, await response.text()
    arriving = [records[25 + 5 * n : 30 + 5 * n] for n in range(3)]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "10", **({"cursor": cursor} if cursor else {})}
        fetch = client.get(RECORDS, params=query)
        if arriving:
            batch = arriving.pop(0)
            response, imported, _ = await asyncio.gather(
                fetch,
                import_batch(client, tokens[Role.ADMIN], batch),
                publish(client, tokens[Role.PUBLISHER], "incident"),
            )
            assert imported.status == 200, await imported.text()
        else:
            response = await fetch
        assert response.status == 200, await response.text()
        page = await response.json()
        pages += 1
        seen.extend(r["id"] for r in admitted_hidden(page["records"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 20

    assert len(seen) == len(set(seen))
    assert seen == [r["id"] for r in await list_all(client, None)]
    assert len(seen) == 40 + 3


async def test_unknown_parameter_is_400_naming_it(client: NodeClient) -> None:
    response = await client.get(RECORDS, params={"kind": "incident", "colour": "red"})

    problem = await expect_problem(response, 400, "bad-parameter", "colour:", "unknown parameter")
    assert problem["parameter"] == "colour"


BAD_PARAMETERS = [
    ("limit", "0", "from 1 to 500"),
    ("limit", "501", "from 1 to 500"),
    ("limit", "ten", "integer"),
    ("limit", "-1", "integer"),
    ("limit", "²", "integer"),
    ("limit", "1" * 5000, "integer"),
    ("since", "yesterday", "RFC 3339"),
    ("since", "2025-01-01T00:00:00", "zone"),
    ("since", "9" * 19, "too large"),
    ("since", "²", "RFC 3339"),
    ("cursor", "not a cursor!", "cursor"),
    ("cursor", b64url_encode(b"-1"), "cursor"),
    ("cursor", b64url_encode(b"9" * 30), "cursor"),
    ("cursor", b64url_encode(b"9" * 5000), "cursor"),
    ("origin", "ed25519:short", "key"),
    ("origin", "rsa:AAAA", "ed25519:"),
    ("kind", "Incident!", "kind"),
    ("audience", "friends", "public, network, coordinators"),
]


def _parameter_id(parameter: str, value: str) -> str:
    return f"{parameter}={value}" if len(value) <= 24 else f"{parameter}=<{len(value)} chars>"


@pytest.mark.parametrize(
    ("parameter", "value", "mention"),
    BAD_PARAMETERS,
    ids=[_parameter_id(parameter, value) for parameter, value, _ in BAD_PARAMETERS],
)
async def test_bad_parameter_is_400_naming_it(
    client: NodeClient, tokens: dict[Role, str], parameter: str, value: str, mention: str
) -> None:
    response = await client.get(
        RECORDS, params={parameter: value}, headers=bearer(tokens[Role.ADMIN])
    )

    problem = await expect_problem(response, 400, "bad-parameter", f"{parameter}:", mention)
    assert problem["parameter"] == parameter


# --- the node -------------------------------------------------------------------------------


async def test_node_describes_itself(client: NodeClient) -> None:
    response = await client.get("/api/v1/node")

    assert response.status == 200
    key = client.app[NODE_KEY].text
    assert await response.json() == {
        "key": key,
        "network_id": NETWORK,
        "stewards": [key, STEWARD.text],
        "software": "banscan",
        "version": __version__,
        # Nothing imported: nothing waits for the indexer.
        "index": {"pending": 0, "set_aside": 0, "logged": 0, "indexed": 0},
    }


async def test_healthz_reports_the_database(client: NodeClient) -> None:
    response = await client.get("/healthz")

    assert response.status == 200
    health = await response.json()
    assert (health["status"], health["database"]) == ("ok", "ok")
    assert isinstance(health["schema_version"], int)
    assert health["schema_version"] >= 1


async def test_unknown_route_and_method_are_problems(client: NodeClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    await expect_problem(missing, 404, "not-found", "/api/v1/nothing-here")

    wrong = await client.delete(RECORDS)
    await expect_problem(wrong, 405, "method-not-allowed", "DELETE")
    assert set(wrong.headers["Allow"].split(",")) >= {"GET", "POST"}
    assert wrong.content_type == PROBLEM
