"""Exports of the campaign kinds: CSV with its HXL row for each kind, filters, NDJSON,
the signed bundle, GeoJSON refused, and the documented columns equal to the code's."""

import csv
import io
import json
import re
from pathlib import Path

import pytest

from node.datadir import DataDir
from node.exports.campaigncolumns import CAMPAIGN_COLUMNS
from node.exports.columns import RECORD_COLUMNS
from protocol.bundle import BundleReader
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import (
    NETWORK,
    action_body,
    agency_body,
    policy_body,
    records_request_body,
    vendor_body,
)
from tests.nodeproc import banscan
from tests.test_api_import import expect_problem
from tests.test_docs import DOCS, read

BODIES = {
    "agency": agency_body(sources=[{"url": "https://example.org/a"}]),
    "vendor": vendor_body(),
    "policy": policy_body(scope='=HYPERLINK("https://example.org")'),
    "records_request": records_request_body(
        responses=[{"sha256": "cd" * 32, "title": "Contract"}],
        exemptions_cited=["POL 87(2)(e)"],
    ),
    "action": action_body(),
}


@pytest.fixture
async def ids(client: NodeClient, tokens: dict[Role, str]) -> dict[str, str]:
    found = {}
    for kind, body in BODIES.items():
        response = await client.post(
            "/api/v1/records",
            json={"kind": kind, "audience": "public", "body": body},
            headers=bearer(tokens[Role.ADMIN]),
        )
        assert response.status == 201, await response.text()
        found[kind] = (await response.json())["id"]
    return found


async def export(client: NodeClient, **params: str) -> bytes:
    response = await client.get("/api/v1/export", params=params)
    assert response.status == 200, await response.text()
    return await response.read()


@pytest.mark.parametrize("kind", list(CAMPAIGN_COLUMNS))
async def test_csv_has_the_kind_s_columns_its_hxl_row_and_its_record(
    client: NodeClient, ids: dict[str, str], kind: str
) -> None:
    text = (await export(client, format="csv", kind=kind)).decode()
    header, hxl, *rows = list(csv.reader(io.StringIO(text, newline="")))
    assert header == [c.name for c in CAMPAIGN_COLUMNS[kind]]
    assert hxl == [c.hxl for c in CAMPAIGN_COLUMNS[kind]]
    assert all(tag.startswith("#") and " " not in tag for tag in hxl)
    [row] = [dict(zip(header, values, strict=True)) for values in rows]
    assert row["id"] == ids[kind]
    assert row["origin"].startswith("ed25519:")


async def test_csv_values(client: NodeClient, ids: dict[str, str]) -> None:
    def one(kind: str) -> dict[str, str]:
        header, _, values = list(csv.reader(io.StringIO(texts[kind], newline="")))
        return dict(zip(header, values, strict=True))

    texts = {k: (await export(client, format="csv", kind=k)).decode() for k in CAMPAIGN_COLUMNS}
    agency = one("agency")
    assert (agency["country"], agency["jurisdiction"], agency["city"]) == (
        "US",
        "US-NY",
        "New York",
    )
    assert agency["wikidata"] == "Q328473"
    assert agency["sources"] == "https://example.org/a"
    policy = one("policy")
    assert policy["scope"].startswith("'=")  # a formula stays text in a spreadsheet
    assert (policy["status"], policy["effective"]) == ("in_force", "2019-07-01")
    assert policy["evidence_sha256"] == "e1" * 32
    request = one("records_request")
    assert request["jurisdiction"] == "US-NY"
    assert request["events"] == "2026-01-05:submitted 2026-01-09:acknowledged"
    assert request["responses"] == "cd" * 32
    assert request["due_on"] == "2026-02-03"
    action = one("action")
    assert (action["target"], action["closes_on"]) == ("NYPD", "2026-12-31")
    assert one("vendor")["technologies"] == "retrospective_frt"


async def test_filters_ndjson_and_bundle(client: NodeClient, ids: dict[str, str]) -> None:
    lines = (await export(client, format="ndjson", kind="policy", status="in_force")).splitlines()
    assert [json.loads(line)["id"] for line in lines] == [ids["policy"]]
    assert await export(client, format="ndjson", kind="policy", status="repealed") == b""
    bundle = await export(client, format="bundle", kind="records_request", law="US-NY FOIL")
    reader = BundleReader(DEFAULT_LIMITS)
    records = list(reader.feed(bundle))
    reader.finish()
    assert reader.header is not None
    assert reader.header.network_id == NETWORK
    assert [r.id.hex() for r in records if isinstance(r, SignedRecord)] == [ids["records_request"]]


async def test_geojson_is_refused_for_kinds_without_a_place(client: NodeClient) -> None:
    response = await client.get("/api/v1/export", params={"format": "geojson", "kind": "agency"})
    await expect_problem(response, 400, "bad-parameter", "no place on a map")
    response = await client.get(
        "/api/v1/export", params={"format": "csv", "kind": "policy", "overdue": "true"}
    )
    await expect_problem(response, 400, "bad-parameter", "overdue")


def test_the_documented_columns_are_the_code_s() -> None:
    text = read(DOCS / "exports.md")
    start = text.index("### Campaign kinds' columns")
    blocks = re.split(r"`kind=(\w+)`:", text[start : text.index("The hashtags are", start)])[1:]
    documented = {
        kind: re.findall(r"^\| `(\w+)` \| `([^`]+)` \|", table, re.MULTILINE)
        for kind, table in zip(blocks[::2], blocks[1::2], strict=True)
    }
    own = len(RECORD_COLUMNS)
    assert documented == {
        kind: [(c.name, c.hxl) for c in columns[own:]] for kind, columns in CAMPAIGN_COLUMNS.items()
    }


async def test_cli_export_equals_the_route(
    client: NodeClient, ids: dict[str, str], data_dir: DataDir, tmp_path: Path
) -> None:
    out = tmp_path / "policies.csv"
    args = ["export", "--data-dir", str(data_dir.path), "--out", str(out), "--format", "csv"]
    result = banscan(*args, "--kind", "policy", "--country", "US", "--audience", "public")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == await export(client, format="csv", kind="policy", country="US")
    assert ids["policy"] in out.read_text()
