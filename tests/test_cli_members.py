"""``banscan members`` end to end: the real CLI on real data directories, with the node
stopped (in this process, tests/inprocess.py) and while it runs (in child processes)."""

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from node.datadir import DataDir
from protocol.records import encode_batch
from tests.factories import feed, seeded_key
from tests.inprocess import cli
from tests.nodeproc import banscan, running_node
from tests.test_bundles import write_bundle

MEMBER = seeded_key("cli member")
STRANGER = seeded_key("cli stranger")


def new_node(path: Path, *stewards: str) -> Path:
    DataDir(path).init("banthescan", list(stewards))
    return path


def members(capsys: pytest.CaptureFixture[str], node_dir: Path) -> dict[str, dict[str, Any]]:
    listed = cli(capsys, "members", "list", "--data-dir", str(node_dir), "--json")
    assert listed.returncode == 0, listed.stderr
    return {m["key"]: m for m in json.loads(listed.stdout)["members"]}


def test_admit_suspend_revoke_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node_dir = new_node(tmp_path / "steward")
    own = DataDir(node_dir).load_key().text
    admitted = cli(
        capsys, "members", "admit", MEMBER.text, "--data-dir", str(node_dir),
        "--role", "coordinator", "--name", "Leeds group", "--city", "Leeds", "--country", "GB",
    )  # fmt: skip
    assert admitted.returncode == 0, admitted.stderr
    assert len(admitted.stdout.strip()) == 64

    state = members(capsys, node_dir)
    assert state[own]["state"] == "steward"
    assert (state[MEMBER.text]["role"], state[MEMBER.text]["state"]) == ("coordinator", "admitted")
    assert (state[MEMBER.text]["name"], state[MEMBER.text]["country"]) == ("Leeds group", "GB")

    table = cli(capsys, "members", "list", "--data-dir", str(node_dir))
    assert table.returncode == 0, table.stderr
    header, _, *rows = table.stdout.splitlines()
    assert header.split() == ["key", "role", "state", "name", "city", "country", "since"]
    assert any(MEMBER.text in row and "Leeds group" in row for row in rows)

    suspended = cli(capsys, "members", "suspend", MEMBER.text, "--data-dir", str(node_dir))
    assert suspended.returncode == 0, suspended.stderr
    member = members(capsys, node_dir)[MEMBER.text]
    # Suspension keeps the role and name it had.
    assert (member["state"], member["role"], member["name"]) == (
        "suspended",
        "coordinator",
        "Leeds group",
    )

    revoked = cli(
        capsys, "members", "revoke", MEMBER.text, "--data-dir", str(node_dir),
        "--compromised-since", "2026-03-01",
    )  # fmt: skip
    assert revoked.returncode == 0, revoked.stderr
    member = members(capsys, node_dir)[MEMBER.text]
    assert member["state"] == "revoked"
    assert member["compromised_since_ms"] == 1_772_323_200_000

    # The membership records are public records of the node's own feed.
    status = cli(capsys, "status", "--data-dir", str(node_dir), "--json")
    counts = {(r["kind"], r["audience"]): r["count"] for r in json.loads(status.stdout)["records"]}
    assert counts == {("membership", "public"): 3}


def test_unknown_keys_and_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node_dir = new_node(tmp_path / "steward")
    unknown = cli(capsys, "members", "suspend", STRANGER.text, "--data-dir", str(node_dir))
    assert unknown.returncode == 1
    assert "not a member this node knows" in unknown.stderr
    unknown = cli(
        capsys, "members", "revoke", STRANGER.text, "--data-dir", str(node_dir),
        "--compromised-since", "1760000000000",
    )  # fmt: skip
    assert unknown.returncode == 1

    bad_key = cli(
        capsys, "members", "admit", "ed25519:nope", "--data-dir", str(node_dir),
        "--role", "chapter", "--name", "X",
    )  # fmt: skip
    assert bad_key.returncode == 2
    assert "KEY" in bad_key.stderr
    bad_time = cli(
        capsys, "members", "revoke", STRANGER.text, "--data-dir", str(node_dir),
        "--compromised-since", "yesterday",
    )  # fmt: skip
    assert bad_time.returncode == 2
    assert "--compromised-since" in bad_time.stderr
    no_role = cli(capsys, "members", "admit", MEMBER.text, "--data-dir", str(node_dir))
    assert no_role.returncode == 2
    bare = cli(capsys, "members")
    assert bare.returncode == 2
    assert "admit" in bare.stdout


def test_a_node_that_is_no_steward_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node_dir = new_node(tmp_path / "chapter", seeded_key("cli real steward").text)
    refused = cli(
        capsys, "members", "admit", MEMBER.text, "--data-dir", str(node_dir),
        "--role", "chapter", "--name", "Leeds",
    )  # fmt: skip
    assert refused.returncode == 1
    assert "not a steward" in refused.stderr
    assert MEMBER.text not in members(capsys, node_dir)


def test_admitting_while_the_node_runs_takes_effect_at_once(tmp_path: Path) -> None:
    node_dir = new_node(tmp_path / "steward")
    token = banscan("token", "create", "--data-dir", str(node_dir), "--role", "publisher")
    assert token.returncode == 0, token.stderr

    def post(records: bytes) -> dict[str, object]:
        request = urllib.request.Request(
            f"{node.url}/api/v1/records/import",
            data=records,
            headers={
                "Authorization": f"Bearer {token.stdout.strip()}",
                "Content-Type": "application/msgpack",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, object] = json.load(response)
        return answer

    records = feed(MEMBER, 3)
    with running_node(node_dir) as node:
        assert post(encode_batch(records[:1]))["quarantined"] == 1
        admitted = banscan(
            "members", "admit", MEMBER.text, "--data-dir", str(node_dir),
            "--role", "chapter", "--name", "Leeds",
        )  # fmt: skip
        assert admitted.returncode == 0, admitted.stderr
        # The quarantined record was stored by the CLI; the node now accepts the rest.
        answer = post(encode_batch(records))
        assert (answer["duplicate"], answer["accepted"]) == (1, 2)
        assert node.stop() == 0


def test_status_counts_the_quarantine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node_dir = new_node(tmp_path / "steward")
    # Records of a key no steward has decided on wait in the quarantine.
    bundle = write_bundle(tmp_path / "stranger.bundle", feed(STRANGER, 3))
    imported = cli(capsys, "import", "--data-dir", str(node_dir), str(bundle))
    assert imported.returncode == 0, imported.stderr
    status = cli(capsys, "status", "--data-dir", str(node_dir), "--json")
    held = json.loads(status.stdout)["quarantine"]
    assert held["records"] == 3
    assert held["bytes"] > 0
    text = cli(capsys, "status", "--data-dir", str(node_dir))
    assert "quarantine 3 record(s)" in text.stdout
