"""Exports: CSV with HXL, GeoJSON, NDJSON and bundles, over a real node and SQLite file."""

import csv
import io
import itertools
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import geojson
import msgpack
import pytest
from structlog.testing import capture_logs

from node.exports.bundles import export_bundle, verify_bundle
from node.exports.columns import DEPLOYMENT_COLUMNS, INCIDENT_COLUMNS, degrees
from node.exports.csvlines import csv_chunks
from node.exports.csvtext import CHUNK_BYTES
from node.exports.formats import bundle_chunks, geojson_chunks, ndjson_chunks
from node.state import STORE, VERIFIER
from protocol.envelope import decode_envelope
from protocol.geohash import decode
from protocol.keys import key_text
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord
from storage.classify import Outcome
from storage.ingest import ingest_batch
from storage.queries import BodyRow
from storage.stored import RecordFilter, StoredRecord
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import NETWORK, admit, deployment_body, incident_body, seeded_key, signed

EXPORT = "/api/v1/export"
CHAPTER = seeded_key("export chapter")
FORMULA = "=HYPERLINK('http://example.org')"
# The agency record an incident and a camera point at (agency.record).
AGENCY_RECORD = "5b7c7894a49e514e36d7193565f62d4a0a03a20d4b05eb18da837a4fe8417d0c"


def dataset() -> dict[str, SignedRecord]:
    """Public incidents (one superseded, one retracted), deployments, a network incident."""
    records: dict[str, SignedRecord] = {}
    seq = iter(range(1, 100))

    def add(name: str, kind: str, body: dict[str, Any], audience: str = "public") -> None:
        number = next(seq) if audience == "public" else 1
        records[name] = signed(CHAPTER, number, kind=kind, audience=audience, body=body)

    add(
        "area",
        "incident",
        incident_body(tags=["vans", "march"], agency={"name": "NYPD", "record": AGENCY_RECORD}),
    )
    add(
        "no_area",
        "incident",
        incident_body(
            country="GB",
            region=None,
            city="London",
            area=None,
            summary=FORMULA,
            sources=[{"url": "https://example.org/a"}, {"url": "https://example.org/b"}],
        ),
    )
    add("old", "incident", incident_body(area="gcpvj0", summary="First account."))
    add("new", "incident", incident_body(area="gcpvj0", supersedes=records["old"].id.hex()))
    add("retracted", "incident", incident_body(area="u33db2"))
    add("retraction", "retraction", {"target": records["retracted"].id.hex(), "reason": "error"})
    add("camera", "deployment", deployment_body(agency={"name": "NYPD", "record": AGENCY_RECORD}))
    add(
        "south_west",
        "deployment",
        deployment_body(lat_e7=-336_000_000, lon_e7=-706_500_001, country="CL", city=None),
    )
    add("network", "incident", incident_body(summary="Members only."), audience="network")
    return records


@pytest.fixture
async def records(client: NodeClient) -> dict[str, SignedRecord]:
    held = dataset()
    await admit(client.app[STORE], CHAPTER.public_key)
    results = await ingest_batch(
        client.app[VERIFIER], client.app[STORE].records, list(held.values()), atomic=True
    )
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    return held


def _ids(records: dict[str, SignedRecord], *names: str) -> set[str]:
    return {records[name].id.hex() for name in names}


async def _get(client: NodeClient, **query: str) -> tuple[str, Any]:
    headers = bearer(query.pop("token")) if "token" in query else None
    response = await client.get(EXPORT, params=query, headers=headers)
    assert response.status == 200, await response.text()
    return await response.text(), response


def _csv(text: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, hxl, *data = rows
    assert len(hxl) == len(header)
    assert all(tag.startswith("#") and " " not in tag for tag in hxl)
    return [dict(zip(header, row, strict=True)) for row in data]


async def test_csv_of_incidents_has_a_header_an_hxl_row_and_current_records_only(
    client: NodeClient, records: dict[str, SignedRecord]
) -> None:
    text, response = await _get(client, format="csv", kind="incident")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Content-Disposition"].endswith('.csv"')
    assert response.headers["Banscan-Audiences"] == "public"

    header, hxl = list(csv.reader(io.StringIO(text, newline="")))[:2]
    assert header == [c.name for c in INCIDENT_COLUMNS]
    assert hxl == [c.hxl for c in INCIDENT_COLUMNS]
    rows = {row["id"]: row for row in _csv(text)}
    # Neither the superseded version, the retracted one nor the network one.
    assert set(rows) == _ids(records, "area", "no_area", "new")

    area = rows[records["area"].id.hex()]
    assert area["area"] == "dr5ru7"
    assert area["country"] == "US"
    assert area["occurred_on"] == "2025-03-14"
    assert area["category"] == "protest_surveillance"
    assert area["agency"] == "NYPD"
    assert area["agency_record"] == AGENCY_RECORD
    assert area["verification"] == "corroborated"
    assert area["confirmations"] == "2"
    assert area["tags"] == "vans march"
    assert area["origin"] == key_text(CHAPTER.public_key)
    assert area["created"].endswith("Z")

    no_area = rows[records["no_area"].id.hex()]
    assert no_area["area"] == ""
    assert no_area["region"] == ""
    assert no_area["agency_record"] == ""
    assert no_area["sources"] == "https://example.org/a https://example.org/b"
    # A formula in a report is kept as text, not run by a spreadsheet.
    assert no_area["summary"] == "'" + FORMULA

    assert rows[records["new"].id.hex()]["supersedes"] == records["old"].id.hex()


async def test_csv_of_deployments_gives_exact_decimal_degrees(
    client: NodeClient, records: dict[str, SignedRecord]
) -> None:
    text, _ = await _get(client, format="csv", kind="deployment")
    assert next(csv.reader(io.StringIO(text))) == [c.name for c in DEPLOYMENT_COLUMNS]
    rows = {row["id"]: row for row in _csv(text)}
    assert set(rows) == _ids(records, "camera", "south_west")
    camera = rows[records["camera"].id.hex()]
    assert (camera["lat"], camera["lon"]) == ("40.758", "-73.9855")
    assert camera["osm"] == "man_made=surveillance;surveillance:type=camera"
    assert camera["frt_capability"] == "suspected"
    assert (camera["agency"], camera["agency_record"]) == ("NYPD", AGENCY_RECORD)
    assert rows[records["south_west"].id.hex()]["agency_record"] == ""
    south_west = rows[records["south_west"].id.hex()]
    assert (south_west["lat"], south_west["lon"]) == ("-33.6", "-70.6500001")
    assert south_west["country"] == "CL"


def _ring_area(ring: list[list[float]]) -> float:
    """Twice the signed area (shoelace): positive when counter-clockwise."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))


def _check_rfc7946(text: str) -> None:
    validated = geojson.loads(text)
    assert validated.is_valid, validated.errors()
    collection = json.loads(text)
    for feature in collection["features"]:
        geometry = feature["geometry"]
        if geometry is None:
            continue
        points = (
            [geometry["coordinates"]]
            if geometry["type"] == "Point"
            else [p for ring in geometry["coordinates"] for p in ring]
        )
        for lon, lat in points:
            assert -180 <= lon <= 180
            assert -90 <= lat <= 90
            assert len(repr(lon).partition(".")[2]) <= 7
            assert len(repr(lat).partition(".")[2]) <= 7
        if geometry["type"] == "Polygon":
            exterior = geometry["coordinates"][0]
            assert exterior[0] == exterior[-1]
            assert _ring_area(exterior) > 0, "RFC 7946: exterior rings are counter-clockwise"


async def test_geojson_incidents_are_their_geohash_cells(
    client: NodeClient, records: dict[str, SignedRecord]
) -> None:
    text, response = await _get(client, format="geojson", kind="incident")
    assert response.headers["Content-Type"] == "application/geo+json"
    # The geojson package rounds coordinates to 6 decimals as it loads: it validates,
    # plain json gives the exact values.
    collection = json.loads(text)
    assert collection["type"] == "FeatureCollection"
    _check_rfc7946(text)
    features = {f["id"]: f for f in collection["features"]}
    assert set(features) == _ids(records, "area", "no_area", "new")

    area = features[records["area"].id.hex()]
    assert area["geometry"]["type"] == "Polygon"
    cell = decode("dr5ru7")
    lons = {p[0] for p in area["geometry"]["coordinates"][0]}
    lats = {p[1] for p in area["geometry"]["coordinates"][0]}
    assert lons == {round(cell.west, 7), round(cell.east, 7)}
    assert lats == {round(cell.south, 7), round(cell.north, 7)}
    properties = area["properties"]
    assert properties["origin"] == key_text(CHAPTER.public_key)
    assert properties["audience"] == "public"
    assert properties["created_ms"] == decode_envelope(records["area"].envelope_bytes).created_ms
    assert properties["category"] == "protest_surveillance"
    assert properties["tags"] == ["vans", "march"]
    assert features[records["no_area"].id.hex()]["geometry"] is None


async def test_geojson_deployments_are_points(
    client: NodeClient, records: dict[str, SignedRecord]
) -> None:
    text, _ = await _get(client, format="geojson", kind="deployment")
    collection = json.loads(text)
    _check_rfc7946(text)
    features = {f["id"]: f for f in collection["features"]}
    assert set(features) == _ids(records, "camera", "south_west")
    camera = features[records["camera"].id.hex()]
    assert camera["geometry"] == {"type": "Point", "coordinates": [-73.9855, 40.758]}
    south_west = features[records["south_west"].id.hex()]
    assert south_west["geometry"]["coordinates"] == [-70.6500001, -33.6]
    assert camera["properties"]["status"] == "reported"


async def test_an_empty_export_is_still_well_formed(client: NodeClient) -> None:
    text, _ = await _get(client, format="geojson", kind="incident")
    assert json.loads(text) == {"type": "FeatureCollection", "features": []}
    text, _ = await _get(client, format="csv", kind="deployment")
    assert _csv(text) == []
    text, _ = await _get(client, format="ndjson", kind="deployment")
    assert text == ""


async def test_ndjson_lines_are_the_api_record_views(
    client: NodeClient, records: dict[str, SignedRecord]
) -> None:
    text, response = await _get(client, format="ndjson", kind="incident")
    assert response.headers["Content-Type"] == "application/x-ndjson"
    lines = text.splitlines()
    assert text.endswith("\n")
    views = [json.loads(line) for line in lines]
    assert {v["id"] for v in views} == _ids(records, "area", "no_area", "new")
    for view in views:
        single = await client.get(f"/api/v1/records/{view['id']}")
        assert view == await single.json()


async def test_a_token_exports_every_audience_it_reads(
    client: NodeClient, tokens: dict[Role, str], records: dict[str, SignedRecord]
) -> None:
    text, response = await _get(
        client, format="ndjson", kind="incident", token=tokens[Role.ANALYST]
    )
    assert response.headers["Banscan-Audiences"] == "public, network, coordinators"
    ids = {json.loads(line)["id"] for line in text.splitlines()}
    assert ids == _ids(records, "area", "no_area", "new", "network")


async def test_filters_apply_to_exports(
    client: NodeClient, records: dict[str, SignedRecord]
) -> None:
    text, _ = await _get(client, format="csv", kind="incident", country="GB")
    assert {row["id"] for row in _csv(text)} == _ids(records, "no_area")
    text, _ = await _get(client, format="csv", kind="incident", country="US", area="gcp")
    assert {row["id"] for row in _csv(text)} == _ids(records, "new")
    text, _ = await _get(client, format="geojson", kind="deployment", bbox="-80,-40,0,0")
    assert {f["id"] for f in json.loads(text)["features"]} == _ids(records, "south_west")


async def test_bundle_verifies_offline(
    client: NodeClient, records: dict[str, SignedRecord], tmp_path: Path
) -> None:
    response = await client.get(EXPORT, params={"format": "bundle", "kind": "incident"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/vnd.banscan.bundle+msgpack"
    path = tmp_path / "export.bundle"
    path.write_bytes(await response.read())
    report = verify_bundle(path, DEFAULT_LIMITS, NETWORK)
    assert report.ok, report
    assert report.checked == 3
    unpacker = msgpack.Unpacker(io.BytesIO(path.read_bytes()), raw=False)
    header, *entries, trailer = list(unpacker)
    assert header["network_id"] == NETWORK
    assert trailer == {"end": 3}
    assert {SignedRecord(*e).id.hex() for e in entries} == _ids(records, "area", "no_area", "new")


async def test_bundle_writer_matches_the_cli_export_byte_for_byte(
    client: NodeClient, records: dict[str, SignedRecord], tmp_path: Path
) -> None:
    store = client.app[STORE]
    where = RecordFilter(kinds=("incident", "deployment"), audiences=("public",))
    path = tmp_path / "cli.bundle"
    with path.open("wb") as out:
        await export_bundle(store, NETWORK, out, where)
    written = path.read_bytes()
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(written)
    created_ms = next(unpacker)["created_ms"]
    streamed = b"".join(
        [chunk async for chunk in bundle_chunks(store.records.iterate(where), NETWORK, created_ms)]
    )
    assert streamed == written


BAD_QUERIES = [
    ({"kind": "incident"}, "format"),
    ({"format": "xml", "kind": "incident"}, "format"),
    ({"format": "csv"}, "kind"),
    ({"format": "csv", "kind": "retraction"}, "kind"),
    ({"format": "csv", "kind": "incident", "colour": "red"}, "colour"),
    ({"format": "csv", "kind": "incident", "country": "XX"}, "country"),
    ({"format": "csv", "kind": "deployment", "area": "dr5"}, "area"),
]


@pytest.mark.parametrize(("query", "parameter"), BAD_QUERIES, ids=[p for _, p in BAD_QUERIES])
async def test_a_bad_parameter_is_a_problem_naming_it(
    client: NodeClient, query: dict[str, str], parameter: str
) -> None:
    response = await client.get(EXPORT, params=query)
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["type"] == "urn:banscan:problem:bad-parameter"
    assert problem["parameter"] == parameter


async def test_a_repeated_format_is_refused(client: NodeClient) -> None:
    response = await client.get(f"{EXPORT}?format=csv&format=ndjson&kind=incident")
    assert response.status == 400
    assert (await response.json())["parameter"] == "format"


# Constant memory: writers hand out bounded chunks however many records pass.


def _stored(record: SignedRecord, rid: int) -> StoredRecord:
    return StoredRecord(
        rid=rid,
        envelope=decode_envelope(record.envelope_bytes),
        envelope_bytes=record.envelope_bytes,
        signature=record.signature,
        body=record.body,
        erased=False,
    )


async def _repeat(record: SignedRecord, count: int) -> AsyncIterator[StoredRecord]:
    for rid in range(1, count + 1):
        yield _stored(record, rid)


async def _repeat_pages(record: SignedRecord, count: int) -> AsyncIterator[list[BodyRow]]:
    env = decode_envelope(record.envelope_bytes)
    assert record.body is not None
    rows = [
        (rid, record.id, env.origin, env.audience, env.created_ms, record.body)
        for rid in range(1, count + 1)
    ]
    for start in range(0, count, 1000):
        yield rows[start : start + 1000]


@pytest.mark.parametrize("writer", ["csv", "geojson", "ndjson", "bundle"])
async def test_writers_stream_bounded_chunks(writer: str) -> None:
    record = signed(CHAPTER, 1, body=incident_body(sources=[{"url": "https://example.org"}]))
    source, pages = _repeat(record, 20_000), _repeat_pages(record, 20_000)
    chunks = {
        "csv": lambda: csv_chunks(pages, "incident"),
        "geojson": lambda: geojson_chunks(pages, "incident"),
        "ndjson": lambda: ndjson_chunks(source),
        "bundle": lambda: bundle_chunks(source, NETWORK, 1),
    }[writer]()
    received = [chunk async for chunk in chunks]
    # Each chunk is about CHUNK_BYTES: one record's worth over at most.
    assert max(len(chunk) for chunk in received) < CHUNK_BYTES + 4096
    assert len(received) > 10
    whole = b"".join(received)
    assert _count_records(writer, whole) == 20_000, "no record or closing is lost"


def _count_records(writer: str, whole: bytes) -> int:
    if writer == "csv":
        return len(list(csv.reader(io.StringIO(whole.decode(), newline="")))) - 2
    if writer == "geojson":
        return len(json.loads(whole)["features"])
    if writer == "ndjson":
        return len([json.loads(line) for line in whole.splitlines()])
    header, *entries, trailer = list(msgpack.Unpacker(io.BytesIO(whole), raw=False))
    assert header["bundle"] == "banscan-bundle/1"
    assert trailer == {"end": len(entries)}
    return len(entries)


@pytest.mark.slow
async def test_a_large_export_streams_in_chunks(client: NodeClient) -> None:
    count = 20_000
    batch = [
        signed(CHAPTER, seq, kind="deployment", body=deployment_body(lat_e7=seq))
        for seq in range(1, count + 1)
    ]
    store = client.app[STORE]
    await admit(store, CHAPTER.public_key)
    for start in range(0, count, 2000):
        results = await ingest_batch(
            client.app[VERIFIER], store.records, batch[start : start + 2000], atomic=True
        )
        assert results[-1].outcome is Outcome.ACCEPTED
    response = await client.get(EXPORT, params={"format": "csv", "kind": "deployment"})
    assert response.status == 200
    assert "Content-Length" not in response.headers
    pieces = 0
    lines = 0
    async for piece in response.content.iter_chunked(CHUNK_BYTES):
        pieces += 1
        lines += piece.count(b"\r\n")
    assert pieces > 10
    assert lines == count + 2


async def test_a_failure_midway_cuts_the_download_short(client: NodeClient) -> None:
    # Enough records that the first chunks are sent before the damaged one is read.
    key = seeded_key("bulk chapter")
    batch = [signed(key, seq, body=incident_body(summary="x" * 900)) for seq in range(1, 301)]
    store = client.app[STORE]
    await admit(store, key.public_key)
    results = await ingest_batch(client.app[VERIFIER], store.records, batch, atomic=True)
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    # Damage the last body on disk, as a failing disk or a bad restore would.
    with sqlite3.connect(store.db.path) as conn:
        conn.execute("UPDATE bodies SET body = x'c1' WHERE rid = (SELECT MAX(rid) FROM bodies)")
    with capture_logs() as logs:
        response = await client.get(EXPORT, params={"format": "ndjson", "kind": "incident"})
        assert response.status == 200
        # Never a complete-looking file: the chunked body ends without its last chunk.
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert any(entry["event"] == "export failed after it began" for entry in logs)


@pytest.mark.parametrize(
    ("value_e7", "text"),
    [(0, "0"), (-1, "-0.0000001"), (407_580_000, "40.758"), (-1_800_000_000, "-180")],
)
def test_degrees_are_exact(value_e7: int, text: str) -> None:
    assert degrees(value_e7) == text
