"""``banscan export --format``: the same files the export route serves, from the data dir."""

from pathlib import Path

import pytest

from node.datadir import DataDir
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import deployment_body, incident_body
from tests.nodeproc import banscan


@pytest.fixture
async def published(client: NodeClient, tokens: dict[Role, str]) -> None:
    writer = bearer(tokens[Role.PUBLISHER])
    bodies = [
        ("incident", "public", incident_body()),
        ("incident", "network", incident_body(country="GB", city="London", area="gcpvj0")),
        ("deployment", "public", deployment_body()),
    ]
    for kind, audience, body in bodies:
        response = await client.post(
            "/api/v1/records",
            json={"kind": kind, "audience": audience, "body": body},
            headers=writer,
        )
        assert response.status == 201


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize("fmt", ["csv", "geojson", "ndjson"])
@pytest.mark.parametrize("kind", ["incident", "deployment"])
async def test_cli_export_equals_the_route(
    client: NodeClient,
    tokens: dict[Role, str],
    data_dir: DataDir,
    tmp_path: Path,
    fmt: str,
    kind: str,
) -> None:
    out = tmp_path / f"export.{fmt}"
    result = banscan(
        "export",
        "--data-dir",
        str(data_dir.path),
        "--out",
        str(out),
        "--format",
        fmt,
        "--kind",
        kind,
    )
    assert result.returncode == 0, result.stderr
    response = await client.get(
        "/api/v1/export",
        params={"format": fmt, "kind": kind},
        headers=bearer(tokens[Role.ANALYST]),
    )
    assert response.status == 200
    assert out.read_bytes() == await response.read()


@pytest.mark.usefixtures("published")
async def test_cli_export_filters_and_audiences(data_dir: DataDir, tmp_path: Path) -> None:
    out = tmp_path / "gb.ndjson"
    args = [
        "export",
        "--data-dir",
        str(data_dir.path),
        "--out",
        str(out),
        "--format",
        "ndjson",
        "--kind",
        "incident",
    ]
    assert banscan(*args, "--country", "GB").returncode == 0
    assert out.read_text().count("\n") == 1
    assert banscan(*args, "--audience", "public").returncode == 0
    assert '"audience": "network"' not in out.read_text()


async def test_cli_export_refusals(data_dir: DataDir, tmp_path: Path) -> None:
    out = str(tmp_path / "x.csv")
    base = ["export", "--data-dir", str(data_dir.path), "--out", out]
    no_kind = banscan(*base, "--format", "csv")
    assert no_kind.returncode == 2
    assert "--kind" in no_kind.stderr
    bad_country = banscan(*base, "--format", "csv", "--kind", "incident", "--country", "XX")
    assert bad_country.returncode == 2
    assert "--country" in bad_country.stderr
    assert not Path(out).exists()
