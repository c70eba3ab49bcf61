"""POST /api/v1/records/import: signed msgpack batches against a real node and SQLite file.

Every bad batch must be answered with a 4xx problem+json whose stable ``type``
names the fault and whose ``detail`` says what was wrong, and must leave the
store exactly as it was: a batch is all or nothing.

The helpers at the top (``import_batch``, ``expect_problem``, ``store_state``)
are shared by the other ``test_api_*`` modules.
"""

import hashlib
import io
import random
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import pytest
from aiohttp import ClientResponse

from node.state import STORE
from protocol.keys import NodeKey
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, encode_batch
from storage.stored import Fork
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import (
    NETWORK,
    STEWARD,
    admit,
    feed,
    incident_body,
    origins,
    seeded_key,
    signed,
)

IMPORT = "/api/v1/records/import"
MSGPACK = "application/msgpack"
PROBLEM = "application/problem+json"
PROBLEM_PREFIX = "urn:banscan:problem:"
# aiohttp warns when a raw bytes body is over 1 MiB; a stream sends it without the warning.
_RAW_BODY_MAX = 1 << 20


async def import_batch(
    client: NodeClient,
    token: str,
    batch: bytes | Sequence[SignedRecord],
    *,
    content_type: str = MSGPACK,
    admit_origins: bool = True,
) -> ClientResponse:
    """POST a batch; first the test steward admits the origins of its records (unless
    ``admit_origins`` is false), so that they are judged as members' records."""
    if admit_origins and not isinstance(batch, bytes):
        await admit(client.app[STORE], *origins(batch))
    data = batch if isinstance(batch, bytes) else encode_batch(list(batch))
    body: bytes | io.BytesIO = io.BytesIO(data) if len(data) > _RAW_BODY_MAX else data
    return await client.post(
        IMPORT, data=body, headers={"Content-Type": content_type, **bearer(token)}
    )


async def expect_problem(
    response: ClientResponse, status: int, code: str, *mentions: str
) -> dict[str, Any]:
    """Assert an RFC 9457 answer with this status and stable type, naming each of ``mentions``."""
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM
    problem: dict[str, Any] = await response.json(content_type=PROBLEM)
    assert problem["type"] == PROBLEM_PREFIX + code
    assert problem["status"] == status
    assert problem["title"]
    for mention in mentions:
        assert mention in problem["detail"], problem["detail"]
    return problem


@dataclass(frozen=True)
class StoreState:
    """Everything a write could change, read through the API and the store."""

    listed: tuple[str, ...]  # every record id GET /api/v1/records shows an admin, in order
    rows: int
    bodies: int
    feeds: tuple[tuple[bytes, str, int], ...]
    forks: tuple[Fork, ...]


def admitted_hidden(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` without the test steward's membership records that admit test keys."""
    return [r for r in records if r["origin"] != STEWARD.text]


async def list_all(client: NodeClient, token: str | None, query: str = "") -> list[dict[str, Any]]:
    """Every record a token may see, walking the cursor to the end, leaving out the test
    steward's membership records."""
    headers = bearer(token) if token else {}
    records: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        url = f"/api/v1/records?limit=500{query}" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(url, headers=headers)
        assert response.status == 200, await response.text()
        page = await response.json()
        records.extend(admitted_hidden(page["records"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return records


async def _count(client: NodeClient, table: str) -> int:
    """Rows of ``records`` or ``bodies``, leaving out the test steward's admissions."""
    join = "" if table == "records" else " JOIN records r USING (rid)"
    async with client.app[STORE].db.reader.execute(
        f"SELECT COUNT(*) FROM {table}{join} WHERE origin != ?", (STEWARD.public_key,)
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def store_state(client: NodeClient, admin_token: str) -> StoreState:
    """What the node holds, leaving out the test steward's admissions."""
    records = client.app[STORE].records
    return StoreState(
        listed=tuple(r["id"] for r in await list_all(client, admin_token)),
        rows=await _count(client, "records"),
        bodies=await _count(client, "bodies"),
        feeds=tuple(f for f in await records.feeds() if f[0] != STEWARD.public_key),
        forks=tuple(await records.forks()),
    )


async def seed_resident(client: NodeClient, tokens: dict[Role, str]) -> StoreState:
    """Records already held before a test writes, so that "unchanged" means something."""
    response = await import_batch(client, tokens[Role.ADMIN], feed(seeded_key("resident"), 3))
    assert response.status == 200, await response.text()
    published = await client.post(
        "/api/v1/records",
        json={"kind": "incident", "audience": "network", "body": incident_body()},
        headers=bearer(tokens[Role.PUBLISHER]),
    )
    assert published.status == 201, await published.text()
    state = await store_state(client, tokens[Role.ADMIN])
    assert state.rows == len(state.listed) == 4
    return state


@pytest.fixture
async def resident(client: NodeClient, tokens: dict[Role, str]) -> StoreState:
    return await seed_resident(client, tokens)


# --- building bad records by hand ---------------------------------------------------------


def _by_hand(
    key: NodeKey,
    *,
    audience: str = "public",
    kind: str = "incident",
    body: bytes | None = None,
    body_len: int | None = None,
) -> SignedRecord:
    """A record whose envelope is packed field by field, bypassing ``Envelope``'s checks."""
    raw = msgpack.packb(incident_body(), use_bin_type=True) if body is None else body
    fields = [
        "banscan/1",
        NETWORK,
        key.public_key,
        audience,
        1,
        1_760_000_000_001,
        kind,
        hashlib.sha256(raw).digest(),
        len(raw) if body_len is None else body_len,
    ]
    envelope = msgpack.packb(fields, use_bin_type=True)
    return SignedRecord(envelope, key.sign(envelope), None if body_len is not None else raw)


def _non_canonical(key: NodeKey) -> bytes:
    """A correctly signed envelope whose only fault is a wider int format for seq."""
    good = signed(key, 1)
    fields = msgpack.unpackb(good.envelope_bytes)
    items = [msgpack.packb(field, use_bin_type=True) for field in fields]
    items[4] = b"\xcf" + struct.pack(">Q", fields[4])  # uint64 where a fixint is canonical
    envelope = b"\x99" + b"".join(items)
    assert envelope != good.envelope_bytes
    assert msgpack.unpackb(envelope) == fields
    return encode_batch([SignedRecord(envelope, key.sign(envelope), good.body)])


def _wrong_signature(key: NodeKey) -> bytes:
    good = signed(key, 1)
    forged = seeded_key("forger").sign(good.envelope_bytes)
    return encode_batch([SignedRecord(good.envelope_bytes, forged, good.body)])


def _short_signature(key: NodeKey) -> bytes:
    good = signed(key, 1)
    return encode_batch([SignedRecord(good.envelope_bytes, good.signature[:63], good.body)])


def _body_mismatch(key: NodeKey) -> bytes:
    good = signed(key, 1)
    assert good.body is not None
    other = good.body.replace(b"New York", b"New Yolk")
    assert len(other) == len(good.body)
    return encode_batch([SignedRecord(good.envelope_bytes, good.signature, other)])


def _padded(key: NodeKey, count: int, pad: int) -> bytes:
    return encode_batch(
        [signed(key, seq, body=msgpack.packb({"pad": "x" * pad})) for seq in range(1, count + 1)]
    )


def _over_batch_bytes(key: NodeKey) -> bytes:
    """Over max_batch_bytes, but within what the HTTP server reads, so the node's check answers."""
    data = _padded(key, 70, 60_000)
    assert DEFAULT_LIMITS.max_batch_bytes < len(data) < DEFAULT_LIMITS.max_batch_bytes + 64 * 1024
    return data


def _over_request_size(key: NodeKey) -> bytes:
    data = _padded(key, 80, 60_000)
    assert len(data) > DEFAULT_LIMITS.max_batch_bytes + 64 * 1024
    return data


def _one(**kwargs: Any) -> Callable[[NodeKey], bytes]:
    return lambda key: encode_batch([signed(key, 1, **kwargs)])


def _bad_record_wire(key: NodeKey) -> bytes:
    good = signed(key, 1)
    return msgpack.packb([[good.envelope_bytes, good.signature]], use_bin_type=True)


@dataclass(frozen=True)
class BadBatch:
    build: Callable[[NodeKey], bytes]
    status: int
    code: str
    mentions: tuple[str, ...]


BAD_BATCHES = {
    "malformed msgpack": BadBatch(lambda _: b"\xc1\x00\x01", 400, "malformed", ("msgpack",)),
    "not an array": BadBatch(
        lambda _: msgpack.packb({"records": []}), 400, "malformed", ("array",)
    ),
    "empty body": BadBatch(lambda _: b"", 400, "malformed", ("array",)),
    "truncated batch": BadBatch(
        lambda key: encode_batch(feed(key, 2))[:-20],
        400,
        "malformed",
        ("record 1", "msgpack"),
    ),
    "trailing bytes": BadBatch(
        lambda key: encode_batch(feed(key, 1)) + b"\x00", 400, "malformed", ("trailing",)
    ),
    "record not a triple": BadBatch(_bad_record_wire, 400, "malformed", ("record 0",)),
    "non-canonical envelope": BadBatch(_non_canonical, 400, "non-canonical", ("canonical",)),
    "wrong signature": BadBatch(_wrong_signature, 400, "bad-signature", ("signature",)),
    "short signature": BadBatch(_short_signature, 400, "bad-signature", ("64 bytes",)),
    "body hash mismatch": BadBatch(_body_mismatch, 400, "body-mismatch", ("body_sha256",)),
    "oversized envelope": BadBatch(
        lambda key: encode_batch([_by_hand(key, kind="k" * 600)]),
        413,
        "too-large",
        ("envelope is", "limit is 512"),
    ),
    "oversized declared body": BadBatch(
        lambda key: encode_batch([_by_hand(key, body_len=64 * 1024 + 1)]),
        413,
        "too-large",
        ("body is 65537 bytes", "limit is 65536"),
    ),
    "oversized body": BadBatch(
        lambda key: encode_batch([signed(key, 1, body=msgpack.packb({"pad": "x" * 70_000}))]),
        413,
        "too-large",
        ("body is", "limit is 65536"),
    ),
    "over 500 records": BadBatch(
        lambda key: encode_batch(feed(key, 501)), 413, "too-large", ("501 records", "500")
    ),
    "over max_batch_bytes": BadBatch(_over_batch_bytes, 413, "too-large", ("batch is", "bytes")),
    "over the request size": BadBatch(_over_request_size, 413, "too-large", ("max_batch_bytes",)),
    "unknown audience": BadBatch(
        lambda key: encode_batch([_by_hand(key, audience="friends")]),
        400,
        "unknown-audience",
        ("'friends'",),
    ),
    "incident with exact point": BadBatch(
        _one(body=incident_body(lat_e7=407_580_000, lon_e7=-739_855_000)),
        422,
        "invalid-body",
        ("lat_e7", "lon_e7", "exact point"),
    ),
    "geohash over 6 characters": BadBatch(
        _one(body=incident_body(area="dr5ru7x")), 422, "invalid-body", ("area", "not 7")
    ),
    "country not ISO 3166-1": BadBatch(
        _one(body=incident_body(country="XX")), 422, "invalid-body", ("country", "'XX'")
    ),
    "wrong network": BadBatch(
        _one(network_id="testnet"), 400, "wrong-network", ("'testnet'", "'banthescan'")
    ),
    "feed starting at seq 2": BadBatch(
        lambda key: encode_batch([signed(key, 2)]), 409, "seq-gap", ("seq 2", "next seq is 1")
    ),
    "seq gap mid-batch": BadBatch(
        lambda key: encode_batch([signed(key, 1), signed(key, 2), signed(key, 4)]),
        409,
        "seq-gap",
        ("record 2 of 3", "seq 4", "next seq is 3"),
    ),
}


@pytest.mark.parametrize("case", list(BAD_BATCHES.values()), ids=list(BAD_BATCHES))
async def test_bad_batch_is_refused_by_name_and_stores_nothing(
    client: NodeClient, tokens: dict[Role, str], resident: StoreState, case: BadBatch
) -> None:
    await admit(client.app[STORE], seeded_key("importer").public_key)
    response = await import_batch(
        client, tokens[Role.PUBLISHER], case.build(seeded_key("importer"))
    )

    await expect_problem(response, case.status, case.code, *case.mentions)
    assert await store_state(client, tokens[Role.ADMIN]) == resident


async def test_wrong_content_type_is_415_and_stores_nothing(
    client: NodeClient, tokens: dict[Role, str], resident: StoreState
) -> None:
    batch = feed(seeded_key("importer"), 2)
    response = await import_batch(
        client, tokens[Role.ADMIN], batch, content_type="application/octet-stream"
    )

    await expect_problem(response, 415, "unsupported-media-type", "application/msgpack")
    assert await store_state(client, tokens[Role.ADMIN]) == resident


async def test_batch_of_500_is_stored_with_a_result_per_record(
    client: NodeClient, tokens: dict[Role, str], resident: StoreState
) -> None:
    batch = feed(seeded_key("importer"), 500)

    response = await import_batch(client, tokens[Role.PUBLISHER], batch)

    assert response.status == 200, await response.text()
    summary = await response.json()
    assert (summary["accepted"], summary["duplicate"], summary["fork"], summary["rejected"]) == (
        500,
        0,
        0,
        0,
    )
    assert [r["id"] for r in summary["results"]] == [r.id.hex() for r in batch]
    assert {r["outcome"] for r in summary["results"]} == {"accepted"}
    state = await store_state(client, tokens[Role.ADMIN])
    assert state.listed == resident.listed + tuple(r.id.hex() for r in batch)
    assert state.rows == state.bodies == resident.rows + 500


async def test_reimport_reports_every_record_duplicate_and_stores_nothing(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    batch = feed(seeded_key("importer"), 500)
    first = await import_batch(client, tokens[Role.PUBLISHER], batch)
    assert first.status == 200, await first.text()
    before = await store_state(client, tokens[Role.ADMIN])

    again = await import_batch(client, tokens[Role.PUBLISHER], batch)

    assert again.status == 200, await again.text()
    summary = await again.json()
    assert (summary["accepted"], summary["duplicate"]) == (0, 500)
    assert [(r["id"], r["outcome"]) for r in summary["results"]] == [
        (r.id.hex(), "duplicate") for r in batch
    ]
    assert await store_state(client, tokens[Role.ADMIN]) == before


async def test_batch_of_several_feeds_in_shuffled_order_is_accepted(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    keys = [seeded_key(f"chapter {n}") for n in range(3)]
    audiences = ("public", "network", "coordinators")
    batch = [
        record
        for key in keys
        for audience in audiences
        for record in feed(key, 20, audience=audience)
    ]
    random.Random(7).shuffle(batch)

    response = await import_batch(client, tokens[Role.ADMIN], batch)

    assert response.status == 200, await response.text()
    summary = await response.json()
    assert summary["accepted"] == len(batch) == 180
    assert [r["id"] for r in summary["results"]] == [r.id.hex() for r in batch]
    feeds = [f for f in await client.app[STORE].records.feeds() if f[0] != STEWARD.public_key]
    assert sorted(feeds) == sorted(
        (key.public_key, audience, 20) for key in keys for audience in audiences
    )


def _ten_with_gap_at(index: int) -> list[SignedRecord]:
    batch = feed(seeded_key("importer"), 10)
    batch[index] = signed(seeded_key("importer"), 11)
    return batch


def _ten_with_bad_body_at(index: int) -> list[SignedRecord]:
    batch = feed(seeded_key("importer"), 10)
    batch[index] = signed(seeded_key("importer"), index + 1, body=incident_body(country="XX"))
    return batch


def _ten_with_forged_signature_at(index: int) -> list[SignedRecord]:
    batch = feed(seeded_key("importer"), 10)
    forged = seeded_key("forger").sign(batch[index].envelope_bytes)
    batch[index] = SignedRecord(batch[index].envelope_bytes, forged, batch[index].body)
    return batch


@pytest.mark.parametrize(
    ("build", "index", "status", "code", "mention"),
    [
        (_ten_with_bad_body_at, 6, 422, "invalid-body", "country"),
        (_ten_with_forged_signature_at, 3, 400, "bad-signature", "signature"),
        (_ten_with_gap_at, 9, 409, "seq-gap", "seq 11"),
    ],
    ids=["invalid body", "forged signature", "seq gap"],
)
async def test_one_bad_record_of_ten_stores_none_and_the_results_say_which(
    client: NodeClient,
    tokens: dict[Role, str],
    resident: StoreState,
    build: Callable[[int], list[SignedRecord]],
    index: int,
    status: int,
    code: str,
    mention: str,
) -> None:
    batch = build(index)

    response = await import_batch(client, tokens[Role.PUBLISHER], batch)

    problem = await expect_problem(
        response, status, code, f"record {index} of 10", batch[index].id.hex(), mention
    )
    assert "nothing in this batch was stored" in problem["detail"]
    assert (problem["accepted"], problem["rejected"]) == (0, 10)
    results = problem["results"]
    assert [r["id"] for r in results] == [r.id.hex() for r in batch]
    assert {r["outcome"] for r in results} == {"rejected"}
    assert results[index]["code"] == code
    assert mention in results[index]["detail"]
    others = [r for i, r in enumerate(results) if i != index]
    assert {r["code"] for r in others} == {"batch-rejected"}
    assert await store_state(client, tokens[Role.ADMIN]) == resident

    repaired = await import_batch(client, tokens[Role.PUBLISHER], feed(seeded_key("importer"), 10))
    assert repaired.status == 200, await repaired.text()
    assert (await repaired.json())["accepted"] == 10


async def test_fork_keeps_the_first_record_served_and_lists_the_evidence(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    key = seeded_key("two-faced")
    first, second = signed(key, 1), signed(key, 1, created_ms=1_770_000_000_000)
    assert first.id != second.id
    accepted = await import_batch(client, tokens[Role.PUBLISHER], [first])
    assert accepted.status == 200, await accepted.text()

    response = await import_batch(client, tokens[Role.PUBLISHER], [second])

    assert response.status == 200, await response.text()
    summary = await response.json()
    assert (summary["accepted"], summary["fork"]) == (0, 1)
    [result] = summary["results"]
    assert (result["id"], result["outcome"], result["code"]) == (second.id.hex(), "fork", "fork")
    served = await client.get(f"/api/v1/records/{first.id.hex()}")
    assert served.status == 200
    assert (await served.json())["created_ms"] == 1_760_000_000_001
    hidden = await client.get(
        f"/api/v1/records/{second.id.hex()}", headers=bearer(tokens[Role.ADMIN])
    )
    await expect_problem(hidden, 404, "not-found")
    assert [r["id"] for r in await list_all(client, tokens[Role.ADMIN])] == [first.id.hex()]
    forks = await client.get("/api/v1/forks", headers=bearer(tokens[Role.ADMIN]))
    assert forks.status == 200
    [evidence] = (await forks.json())["forks"]
    assert evidence["origin"] == key.text
    assert (evidence["audience"], evidence["seq"]) == ("public", 1)
    assert (evidence["first_id"], evidence["second_id"]) == (first.id.hex(), second.id.hex())
    assert await client.app[STORE].records.flagged_origins() == [key.public_key]

    again = await import_batch(client, tokens[Role.PUBLISHER], [second])
    assert (await again.json())["fork"] == 1
    assert len(await client.app[STORE].records.forks()) == 1


async def test_fork_within_one_batch_is_kept_as_evidence(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    key = seeded_key("two-faced")
    first, second = signed(key, 1), signed(key, 1, created_ms=5)

    response = await import_batch(client, tokens[Role.ADMIN], [first, second, signed(key, 2)])

    assert response.status == 200, await response.text()
    outcomes = [r["outcome"] for r in (await response.json())["results"]]
    assert outcomes == ["accepted", "fork", "accepted"]
    [fork] = await client.app[STORE].records.forks()
    assert (fork.first_id, fork.second_id) == (first.id, second.id)


async def test_fork_in_a_rejected_batch_leaves_no_evidence(
    client: NodeClient, tokens: dict[Role, str], resident: StoreState
) -> None:
    key = seeded_key("two-faced")
    batch = [signed(key, 1), signed(key, 1, created_ms=5), signed(key, 3)]

    response = await import_batch(client, tokens[Role.ADMIN], batch)

    problem = await expect_problem(response, 409, "seq-gap", "seq 3")
    assert [r["outcome"] for r in problem["results"]] == ["rejected"] * 3
    assert await store_state(client, tokens[Role.ADMIN]) == resident
