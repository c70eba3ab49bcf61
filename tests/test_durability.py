"""kill -9 a node in the middle of large imports; after a restart nothing acknowledged is lost
and no batch is stored in part.

A sender thread posts batches of 500 records one after another, cycling over
several feeds, while the test waits for a number of acknowledgements and then
kills the node. Two triggers put the kill at different points of a batch's
life: right after an acknowledgement (the next batch is being sent or
verified), and at the first write of the next commit to the WAL file (the
commit is then torn, complete but unacknowledged, or acknowledged).
"""

import http.client
import json
import sqlite3
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from node.config import DATABASE_FILE, URL_FILE
from node.datadir import DataDir
from protocol.records import encode_batch
from tests.conftest import admit_in
from tests.factories import incident_body, seeded_key, signed
from tests.nodeproc import NodeProcess, banscan

pytestmark = pytest.mark.slow

BATCH_RECORDS = 500
FEEDS = 3
BATCHES_PER_ROUND = 8
ACKS_BEFORE_KILL = 3
DEADLINE_S = 60.0


@dataclass(frozen=True)
class Batch:
    origin: str  # the feed's origin key, in text form
    ids: frozenset[str]
    payload: bytes


def make_batches(round_name: str) -> list[Batch]:
    """Batches that cycle over the feeds, each feed's seqs contiguous across its batches."""
    keys = [seeded_key(f"durability {round_name} feed {n}") for n in range(FEEDS)]
    batches = []
    for index in range(BATCHES_PER_ROUND):
        key = keys[index % FEEDS]
        first = index // FEEDS * BATCH_RECORDS + 1
        records = [
            signed(key, seq, body=incident_body(summary=f"Report {seq} of {round_name}."))
            for seq in range(first, first + BATCH_RECORDS)
        ]
        batches.append(
            Batch(key.text, frozenset(r.id.hex() for r in records), encode_batch(records))
        )
    return batches


@dataclass
class Sender:
    """Posts batches in order until one fails; remembers which were acknowledged."""

    url: str
    token: str
    batches: list[Batch]
    acknowledged: list[int] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def run(self) -> None:
        for index, batch in enumerate(self.batches):
            request = urllib.request.Request(
                f"{self.url}/api/v1/records/import",
                data=batch.payload,
                headers={
                    "Content-Type": "application/msgpack",
                    "Authorization": f"Bearer {self.token}",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=DEADLINE_S) as response:
                    answer = json.load(response)
            except (OSError, http.client.HTTPException):
                return  # the node is gone: this batch was not acknowledged
            if answer.get("accepted") != BATCH_RECORDS:
                self.unexpected.append(f"batch {index}: {answer}")
                return
            with self.changed:
                self.acknowledged.append(index)
                self.changed.notify_all()

    def wait_for_acknowledgements(self, count: int) -> None:
        with self.changed:
            arrived = self.changed.wait_for(
                lambda: len(self.acknowledged) >= count, timeout=DEADLINE_S
            )
        assert arrived, f"only {len(self.acknowledged)} batches acknowledged: {self.unexpected}"


def kill_on_acknowledgements(node: NodeProcess, sender: Sender) -> None:
    """Kill as soon as enough batches are acknowledged: the next one is on its way."""
    sender.wait_for_acknowledgements(ACKS_BEFORE_KILL)
    node.kill()


def kill_on_wal_write(node: NodeProcess, sender: Sender) -> None:
    """After enough acknowledgements, kill at the first sign of the next commit's writes."""
    sender.wait_for_acknowledgements(ACKS_BEFORE_KILL)
    wal = node.data_dir / f"{DATABASE_FILE}-wal"
    before = wal.stat().st_mtime_ns
    deadline = time.monotonic() + DEADLINE_S
    while wal.stat().st_mtime_ns == before:  # busy-wait: a sleep would miss the moment
        assert time.monotonic() < deadline, "no further write to the WAL"
    node.kill()


Trigger = Callable[[NodeProcess, Sender], None]


def crash_during_imports(
    node: NodeProcess, token: str, batches: list[Batch], kill: Trigger
) -> list[int]:
    """Send ``batches`` from a thread, kill the node with ``kill``; the acknowledged indexes."""
    sender = Sender(node.url, token, batches)
    thread = threading.Thread(target=sender.run, name="durability-sender")
    thread.start()
    try:
        kill(node, sender)
    finally:
        node.kill()
        thread.join(DEADLINE_S)
    assert not thread.is_alive()
    assert not sender.unexpected, sender.unexpected
    assert len(sender.acknowledged) < len(batches), "the kill came after the last batch"
    return list(sender.acknowledged)


def present_ids(url: str, origin: str) -> set[str]:
    """Every public record of ``origin`` the node serves, page by page."""
    ids: set[str] = set()
    cursor = ""
    while True:
        query = f"origin={origin}&limit=500" + (f"&cursor={cursor}" if cursor else "")
        with urllib.request.urlopen(f"{url}/api/v1/records?{query}", timeout=30) as response:
            page = json.load(response)
        ids.update(record["id"] for record in page["records"])
        if page["next_cursor"] is None:
            return ids
        cursor = page["next_cursor"]


def check_batches(url: str, batches: list[Batch], acknowledged: list[int]) -> None:
    """Acknowledged batches are whole; every other batch is whole or absent; per feed, the
    stored batches come first."""
    present = {origin: present_ids(url, origin) for origin in {b.origin for b in batches}}
    stored_by_feed: dict[str, list[bool]] = {}
    for index, batch in enumerate(batches):
        found = len(batch.ids & present[batch.origin])
        assert found in (0, BATCH_RECORDS), f"batch {index} is partly stored: {found} records"
        if index in acknowledged:
            assert found == BATCH_RECORDS, f"acknowledged batch {index} was lost"
        stored_by_feed.setdefault(batch.origin, []).append(found == BATCH_RECORDS)
    for origin, stored in stored_by_feed.items():
        assert stored == sorted(stored, reverse=True), f"feed {origin} has a hole: {stored}"
    for origin, ids in present.items():
        assert ids <= set().union(*(b.ids for b in batches if b.origin == origin))


def index_state(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/api/v1/node", timeout=30) as response:
        index: dict[str, int] = json.load(response)["index"]
    return index


def wait_indexed(url: str) -> None:
    """Poll until the indexer has indexed every record acknowledged (storage.indexer)."""
    deadline = time.monotonic() + DEADLINE_S
    while (index := index_state(url))["pending"]:
        assert time.monotonic() < deadline, f"the index did not catch up: {index}"
        time.sleep(0.05)


def restart(data_dir: Path) -> NodeProcess:
    """Start the node again; once it serves, wait for its index to reach what it holds
    (records acknowledged before the kill are indexed after the restart)."""
    node = NodeProcess(data_dir)
    try:
        url = node.wait_serving()
        with urllib.request.urlopen(f"{url}/healthz", timeout=30) as response:
            assert json.load(response)["status"] == "ok"
        wait_indexed(url)
    except BaseException:
        node.close()
        raise
    return node


# The WAL trigger twice: its kill lands before, during or after a commit.
ROUNDS = {
    "after-ack": kill_on_acknowledgements,
    "wal-write 1": kill_on_wal_write,
    "wal-write 2": kill_on_wal_write,
}


def test_kill_9_during_imports_loses_nothing_acknowledged(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    DataDir(data_dir).init("banthescan", [])
    admit_in(
        data_dir,
        *(
            seeded_key(f"durability {round_name} feed {n}").public_key
            for round_name in ROUNDS
            for n in range(FEEDS)
        ),
    )
    token = banscan("token", "create", "--data-dir", str(data_dir), "--role", "publisher")
    assert token.returncode == 0, token.stderr
    rounds: list[tuple[list[Batch], list[int]]] = []
    node = restart(data_dir)
    try:
        for name, trigger in ROUNDS.items():
            batches = make_batches(name)
            acknowledged = crash_during_imports(node, token.stdout.strip(), batches, trigger)
            node.close()
            rounds.append((batches, acknowledged))
            node = restart(data_dir)
            for earlier_batches, earlier_acknowledged in rounds:
                check_batches(node.url, earlier_batches, earlier_acknowledged)
        assert node.stop() == 0
    finally:
        node.close()

    db = sqlite3.connect(data_dir / DATABASE_FILE)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        # Each feed's max_seq matches the records it holds: seqs 1..max_seq, no gaps.
        feeds = db.execute(
            "SELECT f.max_seq, COUNT(r.rid), MIN(r.seq), MAX(r.seq) FROM feeds f "
            "JOIN records r ON r.origin = f.origin AND r.audience = f.audience "
            "GROUP BY f.origin, f.audience"
        ).fetchall()
    finally:
        db.close()
    assert feeds
    for max_seq, count, low, high in feeds:
        assert (count, low, high) == (max_seq, 1, max_seq)
    assert not (data_dir / URL_FILE).exists()


def counted(url: str, origin: str) -> int:
    """How many of ``origin``'s incidents the node's stats count."""
    with urllib.request.urlopen(f"{url}/api/v1/stats?origin={origin}", timeout=30) as response:
        return int(json.load(response)["total"]["count"])


def kill_with_records_pending(node: NodeProcess, sender: Sender) -> None:
    """Kill as soon as the node says acknowledged records wait for its indexer."""
    sender.wait_for_acknowledgements(1)
    deadline = time.monotonic() + DEADLINE_S
    while not index_state(node.url)["pending"]:
        assert time.monotonic() < deadline, "the indexer never fell behind"
    node.kill()


def test_kill_9_with_records_waiting_for_the_indexer(tmp_path: Path) -> None:
    """Records acknowledged and logged but not yet indexed survive kill -9: after the
    restart they are served, and once indexed counted in stats exactly once."""
    data_dir = tmp_path / "node"
    DataDir(data_dir).init("banthescan", [])
    batches = make_batches("pending")
    admit_in(
        data_dir, *(seeded_key(f"durability pending feed {n}").public_key for n in range(FEEDS))
    )
    token = banscan("token", "create", "--data-dir", str(data_dir), "--role", "publisher")
    assert token.returncode == 0, token.stderr
    node = restart(data_dir)
    try:
        acknowledged = crash_during_imports(
            node, token.stdout.strip(), batches, kill_with_records_pending
        )
        db = sqlite3.connect(data_dir / DATABASE_FILE)
        try:
            waiting = db.execute("SELECT COUNT(*) FROM pending").fetchone()[0]
        finally:
            db.close()
        assert waiting > 0
        node.close()
        node = restart(data_dir)
        check_batches(node.url, batches, acknowledged)
        for origin in {b.origin for b in batches}:
            assert counted(node.url, origin) == len(present_ids(node.url, origin))
        assert node.stop() == 0
    finally:
        node.close()
