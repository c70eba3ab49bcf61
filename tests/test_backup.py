"""``banscan backup`` of a node taking writes, and ``banscan restore`` onto a fresh data dir.

A publisher thread posts records to a real node process without pause; the
backup runs meanwhile. Every record acknowledged before the backup began
must be served by a node started on the restored database.
"""

import json
import shutil
import sqlite3
import stat
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from node.cli import main
from node.config import CONFIG_FILE, DATABASE_FILE, KEY_FILE
from node.datadir import DataDir
from storage.backup import backup_database
from tests.factories import incident_body
from tests.nodeproc import banscan, running_node
from tests.polling import eventually

pytestmark = pytest.mark.slow

DEADLINE_S = 30.0


@dataclass
class Publisher:
    """Posts public incidents one after another until stopped; keeps the acknowledged ids."""

    url: str
    token: str
    acked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            n += 1
            payload = {
                "kind": "incident",
                "audience": "public",
                "body": incident_body(summary=f"Report number {n}."),
            }
            request = urllib.request.Request(
                f"{self.url}/api/v1/records",
                data=json.dumps(payload).encode(),
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {self.token}",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    if response.status == 201:
                        self.acked.append(json.load(response)["id"])
                        continue
                    self.errors.append(f"status {response.status}")
            except (urllib.error.URLError, OSError) as exc:
                self.errors.append(str(exc))
            return

    def wait_for(self, count: int) -> None:
        def acknowledged() -> bool:
            assert not self.errors, self.errors
            return len(self.acked) >= count

        eventually(acknowledged, f"{count} records acknowledged", within_s=DEADLINE_S, poll=0.01)


@contextmanager
def publishing(url: str, token: str) -> Iterator[Publisher]:
    publisher = Publisher(url, token)
    thread = threading.Thread(target=publisher.run, daemon=True)
    thread.start()
    try:
        yield publisher
    finally:
        publisher.stopping.set()
        thread.join(DEADLINE_S)
    assert not publisher.errors, publisher.errors


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run a command in this process (quicker than a child; the node is still a process)."""
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def record_count(database: Path) -> int:
    db = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM records").fetchone()[0])
    finally:
        db.close()


def record_ids(database: Path) -> set[str]:
    db = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute("SELECT lower(hex(id)) FROM records")}
    finally:
        db.close()


def integrity(database: Path) -> str:
    db = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "node"
    DataDir(directory).init("banthescan", [])
    return directory


@pytest.fixture
def token(node_dir: Path) -> str:
    result = banscan("token", "create", "--data-dir", str(node_dir), "--role", "publisher")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def fresh_dir_with_key_of(source: Path, target: Path) -> Path:
    """The disaster-recovery sequence: init a new data dir, then put the saved key and
    config in place of the new ones."""
    assert main(["init", "--data-dir", str(target)]) == 0
    shutil.copyfile(source / KEY_FILE, target / KEY_FILE)
    shutil.copyfile(source / CONFIG_FILE, target / CONFIG_FILE)
    return target


def test_backup_of_a_node_taking_writes_restores_every_acknowledged_record(
    node_dir: Path, token: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backups" / "node.db"
    backup.parent.mkdir()
    with running_node(node_dir) as node, publishing(node.url, token) as publisher:
        publisher.wait_for(50)
        acked_before = list(publisher.acked)
        result = banscan("backup", "--data-dir", str(node_dir), "--out", str(backup))
        assert result.returncode == 0, result.stderr
        # The node kept acknowledging writes while the backup ran, and after.
        publisher.wait_for(len(publisher.acked) + 20)

        # Restore refuses while the node runs, and changes nothing.
        status, _, err = cli(capsys, "restore", "--data-dir", str(node_dir), str(backup))
        assert status == 2
        assert "in use by a running node" in err
        assert node.url in err
    assert not list(node_dir.glob("*.before-restore-*"))

    assert mode(backup) == 0o600
    assert integrity(backup) == "ok"
    assert not list(backup.parent.glob("*-wal")), "a backup is one self-contained file"
    copied = record_count(backup)
    assert copied >= len(acked_before)
    assert f"{copied} records" in result.stdout
    assert "schema version" in result.stdout
    assert "integrity ok" in result.stdout
    assert "node key (node.key) is not in the backup" in result.stdout

    fresh = fresh_dir_with_key_of(node_dir, tmp_path / "fresh")
    status, out, err = cli(capsys, "restore", "--data-dir", str(fresh), str(backup))
    assert status == 0, err
    assert "previous database" not in out  # init makes no database
    assert "note:" not in out  # the backup holds this key's own feed
    assert mode(fresh / DATABASE_FILE) == 0o600
    assert not list(fresh.glob(".*restoring*"))
    with running_node(fresh) as node:
        missing = [
            record_id
            for record_id in acked_before
            if get_status(f"{node.url}/api/v1/records/{record_id}") != 200
        ]
    assert missing == []


def test_restore_keeps_the_previous_database_with_its_wal(
    node_dir: Path, token: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    early = tmp_path / "early.db"
    with running_node(node_dir) as node:
        with publishing(node.url, token) as publisher:
            publisher.wait_for(5)
            assert cli(capsys, "backup", "--data-dir", str(node_dir), "--out", str(early))[0] == 0
            publisher.wait_for(len(publisher.acked) + 5)
        # kill -9 leaves the latest commits in the WAL: restore must fold them into the
        # database it keeps.
        node.kill()
    assert (node_dir / f"{DATABASE_FILE}-wal").stat().st_size > 0
    status, out, err = cli(capsys, "restore", "--data-dir", str(node_dir), str(early))
    assert status == 0, err
    kept = list(node_dir.glob(f"{DATABASE_FILE}.before-restore-*"))
    assert len(kept) == 1
    assert f"kept as {kept[0]}" in out
    assert mode(kept[0]) == 0o600
    assert integrity(kept[0]) == "ok"
    assert set(publisher.acked) <= record_ids(kept[0])
    assert record_ids(node_dir / DATABASE_FILE) == record_ids(early)
    assert not [p for p in node_dir.iterdir() if p.name.endswith(("-wal", "-shm", "-journal"))]


def test_the_copy_is_made_in_steps_while_the_node_writes(
    node_dir: Path, token: str, tmp_path: Path
) -> None:
    """One page per step: many steps, each between commits of the node, and still one
    consistent snapshot holding everything acknowledged before it began."""
    out = tmp_path / "steps.db"
    steps: list[tuple[int, int]] = []
    with running_node(node_dir) as node, publishing(node.url, token) as publisher:
        publisher.wait_for(30)
        acked_before = set(publisher.acked)
        facts = backup_database(
            node_dir / DATABASE_FILE,
            out,
            pages_per_step=1,
            progress=lambda done, total: steps.append((done, total)),
        )
        publisher.wait_for(len(publisher.acked) + 5)
    assert len(steps) > 10
    assert steps[-1][0] == steps[-1][1]
    assert integrity(out) == "ok"
    ids = record_ids(out)
    assert acked_before <= ids
    assert facts.records == len(ids)


def test_restore_refuses_what_is_not_a_banscan_backup(
    node_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.db"
    status, _, err = cli(capsys, "backup", "--data-dir", str(node_dir), "--out", str(good))
    assert status == 2
    assert "no database" in err
    assert cli(capsys, "status", "--data-dir", str(node_dir))[0] == 0  # makes the database
    assert cli(capsys, "backup", "--data-dir", str(node_dir), "--out", str(good))[0] == 0
    status, _, err = cli(capsys, "backup", "--data-dir", str(node_dir), "--out", str(good))
    assert status == 2
    assert "already exists" in err

    text = tmp_path / "notes.txt"
    text.write_text("not a database\n", encoding="utf-8")
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE things (x)")
    db.commit()
    db.close()
    corrupt = tmp_path / "corrupt.db"
    data = bytearray(good.read_bytes())
    page = 4096
    for offset in range(page + 100, len(data) - page, page):  # every page but the first
        data[offset : offset + 200] = b"\xff" * 200
    corrupt.write_bytes(bytes(data))
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(good.read_bytes()[: 3 * page])

    cases = {
        text: "not an SQLite database",
        other: "schema version 0",
        corrupt: str(corrupt),
        truncated: str(truncated),
        tmp_path / "missing.db": "no such file",
    }
    before = (node_dir / DATABASE_FILE).read_bytes()
    for path, reason in cases.items():
        status, out, err = cli(capsys, "restore", "--data-dir", str(node_dir), str(path))
        assert status == 2, (path, out)
        assert reason in err, (path, err)
    assert (node_dir / DATABASE_FILE).read_bytes() == before
    assert sorted(p.name for p in node_dir.iterdir() if p.name.startswith((".", "banscan.db"))) == [
        DATABASE_FILE
    ]


def test_restore_needs_an_initialised_data_dir(
    tmp_path: Path, node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "status", "--data-dir", str(node_dir))[0] == 0
    good = tmp_path / "good.db"
    assert cli(capsys, "backup", "--data-dir", str(node_dir), "--out", str(good))[0] == 0
    status, _, err = cli(capsys, "restore", "--data-dir", str(tmp_path / "empty"), str(good))
    assert status == 2
    assert "banscan init" in err
