"""``banscan submissions claim|release|note|ask|duplicate|history``, on a data directory
and on a running node through its API: the same commands, the same outcomes.

On a data directory the commands run in this process (:func:`node.cli.main.main`), as a
child process each would cost seconds. On the API's side the node is a real process
and the commands reach it over HTTP, as a person's would."""

import getpass
import json
import sqlite3
from pathlib import Path

import pytest

from node.datadir import DataDir
from tests.inprocess import cli, good
from tests.moderating import ALICE, new_node, submit
from tests.nodeproc import running_node
from tests.test_cli_submissions import key_file, report

CANARY = "NOTE-CANARY-41c2"


def test_the_desk_commands_on_a_data_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node_dir = new_node(tmp_path / "node")
    first, second, third = submit(node_dir, report(), report(), report())
    where = ("--data-dir", str(node_dir))
    me = f"cli:{getpass.getuser()}"

    claimed = good(capsys, "submissions", "claim", first, *where)
    assert f"claimed {first} as {me} until " in claimed
    noted = good(
        capsys, "submissions", "note", first, f"Reporter sounds credible. {CANARY}", *where
    )
    assert f"noted on {first}" in noted
    asked = good(capsys, "submissions", "ask", first, "Which exit of the station was it?", *where)
    assert "needs_info" in asked
    listed = json.loads(
        good(capsys, "submissions", "list", "--status", "needs_info", "--json", *where)
    )
    [waiting] = listed["submissions"]
    assert (waiting["id"], waiting["claim"]["holder"]) == (first, me)

    marked = cli(capsys, "submissions", "duplicate", second, third, "--of", first, *where)
    assert marked.returncode == 0, marked.stderr
    assert f"marked {second} as a duplicate of {first}" in marked.stdout
    again = cli(capsys, "submissions", "duplicate", second, "--of", first, *where)
    assert (again.returncode, f"skipped {second}: duplicate" in again.stdout) == (1, True)

    sealed = good(capsys, "submissions", "history", first, *where)
    assert "(sealed: give --key to read it)" in sealed
    assert "Which exit of the station was it?" in sealed
    assert "hash chain intact" in sealed
    alice = str(key_file(tmp_path, ALICE, "alice.key"))
    opened = json.loads(
        good(capsys, "submissions", "history", first, "--key", alice, "--json", *where)
    )
    [note] = [item for item in opened["items"] if item["type"] == "note"]
    assert note["opened"] == {"text": f"Reporter sounds credible. {CANARY}"}
    actions = [e["action"] for e in opened["entries"]]
    assert actions[:3] == ["claim", "note", "ask"]
    assert "view" in actions

    assert f"released {first}" in good(capsys, "submissions", "release", first, *where)
    assert "you held no claim" in good(capsys, "submissions", "release", first, *where)

    database = DataDir(node_dir).database
    files = [database, database.with_name(database.name + "-wal")]
    assert all(CANARY.encode() not in f.read_bytes() for f in files if f.exists())
    with sqlite3.connect(database) as conn:
        [(count,)] = conn.execute("SELECT count(*) FROM submission_items WHERE type = 'note'")
    assert count == 1


def test_a_claim_made_on_the_machine_is_seen_and_taken_over_through_the_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node runs as its own process; the commands that reach it through its API run
    in this one (each as a child process would cost seconds on a loaded machine)."""
    node_dir = new_node(tmp_path / "node")
    [first] = submit(node_dir, report())
    good(capsys, "submissions", "claim", first, "--data-dir", str(node_dir))
    token = good(capsys, "token", "create", "--data-dir", str(node_dir), "--role", "moderator",
               "--label", "bob").strip()  # fmt: skip
    with running_node(node_dir) as node:
        remote = ("--node", node.url)
        monkeypatch.setenv("BANSCAN_TOKEN", token)
        refused = cli(capsys, "submissions", "claim", first, *remote)
        assert refused.returncode == 1
        assert f"claimed by cli:{getpass.getuser()}" in refused.stderr
        taken = cli(capsys, "submissions", "claim", first, "--take-over", *remote)
        assert taken.returncode == 0, taken.stderr
        assert "token:bob" in taken.stdout
        assert f"taken over from cli:{getpass.getuser()}" in taken.stdout
        noted = cli(capsys, "submissions", "note", first, "Checked the map.", *remote)
        assert noted.returncode == 0, noted.stderr
        history = cli(capsys, "submissions", "history", first, "--json", *remote)
        entries = json.loads(history.stdout)["entries"]
        assert [e["action"] for e in entries][:3] == ["claim", "take-over", "note"]
