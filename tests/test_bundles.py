"""Signed-record bundles through the CLI: export, verify offline, import, tampering, filters."""

import json
import os
import re
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from node.config import DATABASE_FILE
from node.datadir import DataDir
from protocol.bundle import BundleReader, encode_header, encode_trailer
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord
from tests.factories import deployment_body, incident_body, seeded_key, signed
from tests.nodeproc import banscan, running_node

ORIGIN_A = seeded_key("bundle origin a")
ORIGIN_B = seeded_key("bundle origin b")


def source_records() -> list[SignedRecord]:
    """Three feeds: public incidents, network deployments, coordinators incidents."""
    return [
        *(
            signed(ORIGIN_A, seq, body=incident_body(summary=f"Public report {seq}."))
            for seq in range(1, 6)
        ),
        *(
            signed(
                ORIGIN_A,
                seq,
                kind="deployment",
                audience="network",
                body=deployment_body(lat_e7=407_580_000 + seq),
            )
            for seq in range(1, 4)
        ),
        *(
            signed(
                ORIGIN_B,
                seq,
                audience="coordinators",
                body=incident_body(summary=f"Coordinators report {seq}."),
            )
            for seq in range(1, 3)
        ),
    ]


SOURCE = source_records()
SOURCE_IDS = [r.id.hex() for r in SOURCE]


def write_bundle(path: Path, records: list[SignedRecord], network_id: str = "banthescan") -> Path:
    with path.open("wb") as out:
        out.write(encode_header(network_id, 1_760_000_000_000))
        for record in records:
            out.write(record.encode())
        out.write(encode_trailer(len(records)))
    return path


def bundle_ids(path: Path) -> list[str]:
    """The ids of a well-formed bundle's records, read with the protocol's own reader."""
    reader = BundleReader(DEFAULT_LIMITS)
    ids = [
        item.id.hex() for item in reader.feed(path.read_bytes()) if isinstance(item, SignedRecord)
    ]
    reader.finish()
    return ids


LARGE_FEEDS = 3
LARGE_PER_FEED = 1000
LARGE_KEYS = [seeded_key(f"large feed {n}") for n in range(LARGE_FEEDS)]


def new_node(path: Path, network_id: str = "banthescan") -> Path:
    # These tests are about bundles, not trust: the origins are the network's stewards,
    # whose records every node accepts (tests/test_members.py covers the trust rule).
    stewards = [key.text for key in (ORIGIN_A, ORIGIN_B, *LARGE_KEYS)]
    DataDir(path).init(network_id, stewards)
    return path


def stored_count(node_dir: Path) -> int:
    """How many records the node's database holds, read with plain sqlite3."""
    db = sqlite3.connect(f"{(node_dir / DATABASE_FILE).as_uri()}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM records").fetchone()[0])
    finally:
        db.close()


def import_bundle(node_dir: Path, bundle: Path) -> subprocess.CompletedProcess[str]:
    return banscan("import", "--data-dir", str(node_dir), str(bundle))


@pytest.fixture(scope="module")
def source_node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A node holding :data:`SOURCE`, put there by ``banscan import``. Tests only read it."""
    base = tmp_path_factory.mktemp("source")
    node_dir = new_node(base / "node")
    result = import_bundle(node_dir, write_bundle(base / "seed.bundle", SOURCE))
    assert result.returncode == 0, result.stderr
    assert "10 accepted" in result.stdout
    return node_dir


@pytest.fixture(scope="module")
def exported(source_node: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "all.bundle"
    result = banscan("export", "--data-dir", str(source_node), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"exported 10 records to {out}" in result.stderr
    assert result.stdout == ""
    assert not Path(f"{out}.partial").exists()
    return out


def verify(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return banscan("verify", *args, str(bundle))


def test_an_export_verifies(exported: Path) -> None:
    result = verify(exported)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10 records checked, 10 good, 0 bad (network banthescan)" in result.stdout
    assert sorted(bundle_ids(exported)) == sorted(SOURCE_IDS)


def test_import_into_a_fresh_node_makes_the_same_records_present(
    exported: Path, tmp_path: Path
) -> None:
    target = new_node(tmp_path / "target")
    result = import_bundle(target, exported)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10 accepted" in result.stdout
    token = banscan("token", "create", "--data-dir", str(target), "--role", "analyst")
    assert token.returncode == 0, token.stderr
    with running_node(target) as node:
        request = urllib.request.Request(
            f"{node.url}/api/v1/records?limit=500",
            headers={"Authorization": f"Bearer {token.stdout.strip()}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            listed = json.load(response)
        assert node.stop() == 0
    assert sorted(r["id"] for r in listed["records"]) == sorted(SOURCE_IDS)


def test_importing_twice_reports_duplicates(exported: Path, tmp_path: Path) -> None:
    target = new_node(tmp_path / "target")
    assert import_bundle(target, exported).returncode == 0
    again = import_bundle(target, exported)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "10 duplicate" in again.stdout
    assert "accepted" not in again.stdout
    assert stored_count(target) == 10


def test_import_into_another_network_stores_nothing(exported: Path, tmp_path: Path) -> None:
    target = new_node(tmp_path / "target", "othernet")
    result = import_bundle(target, exported)
    assert result.returncode == 1
    assert result.stdout.count("wrong-network") == 10
    assert stored_count(target) == 0


def test_verify_for_another_network_fails(exported: Path) -> None:
    result = verify(exported, "--network", "othernet")
    assert result.returncode == 1
    assert "not 'othernet'" in result.stdout
    assert "Traceback" not in result.stderr


def flip(data: bytearray, offset: int) -> None:
    data[offset] ^= 0x01


def entry_offset(data: bytearray, record: SignedRecord) -> int:
    """Where ``record``'s wire form starts in a bundle's bytes."""
    offset = data.find(record.encode())
    assert offset >= 0, f"record {record.id.hex()} is not in the bundle"
    return offset


def test_verify_names_each_tampered_record(exported: Path, tmp_path: Path) -> None:
    data = bytearray(exported.read_bytes())
    body_victim, signature_victim = SOURCE[1], SOURCE[6]
    assert body_victim.body is not None
    entry = entry_offset(data, body_victim)
    flip(data, entry + len(body_victim.encode()) - len(body_victim.body) // 2)
    entry = entry_offset(data, signature_victim)
    flip(data, entry + signature_victim.encode().find(signature_victim.signature) + 10)
    tampered = tmp_path / "tampered.bundle"
    tampered.write_bytes(bytes(data))

    result = verify(tampered)

    assert result.returncode == 1
    assert "10 records checked, 8 good, 2 bad" in result.stdout
    bad = dict(re.findall(r"^bad record ([0-9a-f]{64}): (.+)$", result.stdout, re.MULTILINE))
    assert set(bad) == {body_victim.id.hex(), signature_victim.id.hex()}
    assert bad[body_victim.id.hex()].startswith("body-mismatch:")
    assert bad[signature_victim.id.hex()].startswith("bad-signature:")


def test_import_skips_a_tampered_record_and_names_it(exported: Path, tmp_path: Path) -> None:
    data = bytearray(exported.read_bytes())
    victim = SOURCE[-1]  # the last of its feed, so no later seq depends on it
    flip(data, entry_offset(data, victim) + victim.encode().find(victim.signature))
    tampered = tmp_path / "tampered.bundle"
    tampered.write_bytes(bytes(data))
    target = new_node(tmp_path / "target")

    result = import_bundle(target, tampered)

    assert result.returncode == 1
    assert "9 accepted" in result.stdout
    assert f"bad record {victim.id.hex()}: bad-signature" in result.stdout
    assert stored_count(target) == 9


DAMAGE: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "truncated": (lambda data: data[: len(data) // 2], "truncated"),
    "no trailer": (lambda data: data[: -len(encode_trailer(10))], "no trailer after 10 records"),
    "garbage appended": (lambda data: data + b"garbage", "data after its trailer"),
    "wrong count": (
        lambda data: data[: -len(encode_trailer(10))] + encode_trailer(9),
        "trailer says 9 records",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_verify_reports_a_damaged_bundle(exported: Path, tmp_path: Path, damage: str) -> None:
    cut, reason = DAMAGE[damage]
    damaged = tmp_path / "damaged.bundle"
    damaged.write_bytes(cut(exported.read_bytes()))
    result = verify(damaged)
    assert result.returncode == 1
    assert reason in result.stdout
    assert "Traceback" not in result.stderr


def test_verify_needs_an_existing_file(tmp_path: Path) -> None:
    result = verify(tmp_path / "missing.bundle")
    assert result.returncode == 2
    assert "missing.bundle" in result.stderr


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["--kind", "deployment"], SOURCE[5:8]),
        (["--audience", "public", "--audience", "coordinators"], SOURCE[:5] + SOURCE[8:]),
        (["--kind", "incident", "--audience", "coordinators"], SOURCE[8:]),
    ],
    ids=["kind", "two audiences", "kind and audience"],
)
def test_export_filters(
    source_node: Path, tmp_path: Path, filters: list[str], expected: list[SignedRecord]
) -> None:
    out = tmp_path / "filtered.bundle"
    result = banscan("export", "--data-dir", str(source_node), "--out", str(out), *filters)
    assert result.returncode == 0, result.stderr
    assert sorted(bundle_ids(out)) == sorted(r.id.hex() for r in expected)


def test_export_to_stdout(source_node: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "node.cli", "export", "--data-dir", str(source_node), "--out", "-"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "stdout.bundle"
    out.write_bytes(result.stdout)
    assert sorted(bundle_ids(out)) == sorted(SOURCE_IDS)


@pytest.fixture(scope="module")
def large_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    records = [signed(key, seq) for key in LARGE_KEYS for seq in range(1, LARGE_PER_FEED + 1)]
    return write_bundle(tmp_path_factory.mktemp("large") / "large.bundle", records)


def test_a_large_round_trip_without_a_terminal(large_bundle: Path, tmp_path: Path) -> None:
    total = LARGE_FEEDS * LARGE_PER_FEED
    node_dir = new_node(tmp_path / "node")
    imported = import_bundle(node_dir, large_bundle)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert f"{total} accepted" in imported.stdout
    # No progress noise when stderr is not a terminal.
    assert imported.stderr == ""

    out = tmp_path / "large-export.bundle"
    exported = banscan("export", "--data-dir", str(node_dir), "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert f"exported {total} records to {out}" in exported.stderr
    assert "\r" not in exported.stderr
    assert "exported:" not in exported.stderr

    checked = verify(out)
    assert checked.returncode == 0, checked.stdout
    assert f"{total} records checked, {total} good, 0 bad" in checked.stdout
    assert checked.stderr == ""
    assert sorted(bundle_ids(out)) == sorted(bundle_ids(large_bundle))


def run_on_a_terminal(*args: str) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; its exit status and what it showed there."""
    controller, terminal = os.openpty()
    try:
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "node.cli", *args],
                stdout=subprocess.DEVNULL,
                stderr=terminal,
            )
        finally:
            os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            shown += chunk
        return process.wait(60), shown.decode()
    finally:
        os.close(controller)


def test_long_operations_show_progress_on_a_terminal(large_bundle: Path, tmp_path: Path) -> None:
    node_dir = new_node(tmp_path / "node")
    status_code, shown = run_on_a_terminal("import", "--data-dir", str(node_dir), str(large_bundle))
    assert status_code == 0
    assert "3,000 records (100%)" in shown
    out = tmp_path / "export.bundle"
    status_code, shown = run_on_a_terminal("export", "--data-dir", str(node_dir), "--out", str(out))
    assert status_code == 0
    assert "3,000 records" in shown
