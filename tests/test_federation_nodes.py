"""Real node processes federating on 127.0.0.1 (docs/protocol.md sections 7.1 and 18 to 21).

Each node is made by ``banscan init``, given its peers as ``[[peers]]`` tables in
its ``banscan.toml`` and its federation settings as ``BANSCAN_*`` variables,
admitted or revoked by ``banscan members`` run on the steward's data directory,
and served by ``banscan run`` on a port chosen in advance, so that other nodes
can name it before it starts and it keeps its URL across restarts. Tests see
the nodes through their HTTP API (and ``banscan status`` once one is stopped),
and wait by polling a condition with a deadline, never by sleeping.

The anti-entropy interval is far longer than any wait here: whatever arrives
came by eager push, or by the sessions a node runs with its peers when it
starts and again when it learns it is a member.
"""

import asyncio
import datetime
import itertools
import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from node.datadir import DataDir
from protocol.records import SignedRecord, encode_batch
from storage.tokens import Role
from tests.conftest import node_store
from tests.factories import feed, incident_body, seeded_key
from tests.nodeproc import NodeProcess, banscan
from tests.polling import eventually
from tests.ports import free_port

# Several node processes per test, on a machine that may be busy: more than the usual
# per-test timeout.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

NETWORK = "banscan-test"
SYNC_INTERVAL_S = 120
# Every wait (tests.polling.WITHIN_S) is well within the shortest anti-entropy interval
# (0.8 x SYNC_INTERVAL_S).
AUDIENCES = ("public", "network", "coordinators")


def rfc3339(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Node:
    """One node's data directory, and its ``banscan run`` process while it runs."""

    def __init__(self, name: str, data_dir: Path, key: str) -> None:
        self.name = name
        self.data_dir = data_dir
        self.key = key
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {"BANSCAN_FEDERATION_SYNC_INTERVAL_S": str(SYNC_INTERVAL_S)}
        self.token = _create_token(data_dir)
        self.process: NodeProcess | None = None
        self.logs: list[str] = []  # stderr of the processes that ended

    def __repr__(self) -> str:
        return f"Node({self.name})"

    # -- configuration and process --------------------------------------------

    def add_peer(self, peer: "Node") -> None:
        """Append a ``[[peers]]`` table naming ``peer`` to this node's ``banscan.toml``."""
        config = self.data_dir / "banscan.toml"
        with config.open("a", encoding="utf-8") as out:
            out.write(f'\n[[peers]]\nurl = "{peer.url}"\nkey = "{peer.key}"\n')

    def launch(self) -> NodeProcess:
        assert self.process is None, f"{self.name} is already running"
        self.process = NodeProcess(self.data_dir, self.env, port=self.port)
        return self.process

    def stop(self) -> None:
        """SIGTERM: a graceful shutdown."""
        assert self.process is not None
        assert self.process.stop() == 0
        self._ended()

    def kill(self) -> None:
        """kill -9: no chance to finish anything."""
        assert self.process is not None
        self.process.kill()
        self._ended()

    def _ended(self) -> None:
        assert self.process is not None
        self.process.close()
        self.logs.extend(self.process.stderr_lines)
        self.process = None

    # -- HTTP API ---------------------------------------------------------------

    def call(
        self, method: str, path: str, body: bytes | None = None, content_type: str = ""
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.url + path, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    def get(self, path: str) -> Any:
        status, answer = self.call("GET", path)
        assert status == 200, (self.name, path, answer)
        return answer

    def publish(self, audience: str, **fields: Any) -> dict[str, Any]:
        """Publish an incident through ``POST /api/v1/records``; its record view."""
        payload = {"kind": "incident", "audience": audience, "body": incident_body(**fields)}
        status, view = self.call(
            "POST", "/api/v1/records", json.dumps(payload).encode(), "application/json"
        )
        assert status == 201, (self.name, view)
        assert isinstance(view, dict)
        return view

    def publish_offline(self, audience: str, **fields: Any) -> str:
        """Publish an incident with ``banscan publish`` while the node is stopped; its id."""
        assert self.process is None
        result = banscan(
            "publish",
            "--data-dir",
            str(self.data_dir),
            "--kind",
            "incident",
            "--audience",
            audience,
            "-",
            input_text=json.dumps(incident_body(**fields)),
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def import_records(self, records: Sequence[SignedRecord]) -> None:
        status, answer = self.call(
            "POST", "/api/v1/records/import", encode_batch(list(records)), "application/msgpack"
        )
        assert status == 200, (self.name, answer)
        assert answer["accepted"] == len(records), answer

    def record(self, record_id: str) -> dict[str, Any] | None:
        """The record as ``GET /api/v1/records/{id}`` shows it; None when it is not visible."""
        status, view = self.call("GET", f"/api/v1/records/{record_id}")
        if status == 404:
            return None
        assert status == 200, (self.name, view)
        assert isinstance(view, dict)
        return view

    def holds(self, *record_ids: str) -> bool:
        return all(self.record(record_id) is not None for record_id in record_ids)

    def record_ids(self, route: str = "/api/v1/records", **query: str) -> list[str]:
        """Ids of every record a route lists, page after page, in the order listed."""
        ids: list[str] = []
        cursor = ""
        while True:
            params = {**query, "limit": "500", **({"cursor": cursor} if cursor else {})}
            page = self.get(f"{route}?{urllib.parse.urlencode(params)}")
            ids.extend(record["id"] for record in page["records"])
            if page["next_cursor"] is None:
                return ids
            cursor = page["next_cursor"]

    def peers(self) -> dict[str, dict[str, Any]]:
        """``GET /api/v1/federation/peers``, by peer key."""
        return {peer["key"]: peer for peer in self.get("/api/v1/federation/peers")["peers"]}

    def settled(self) -> bool:
        """No peer is in backoff, so an eager push now reaches every peer it is meant for."""
        return all(peer["backoff_until"] is None for peer in self.peers().values())


def _create_token(data_dir: Path) -> str:
    """A publisher token, made in the node's store as ``banscan token create`` makes it."""

    async def create() -> str:
        async with node_store(data_dir) as store:
            return await store.tokens.create(Role.PUBLISHER, "federation test")

    return asyncio.run(create())


def banscan_all(*commands: Sequence[str]) -> list[str]:
    """Run several ``banscan`` commands at once (each is mostly interpreter start-up);
    their standard outputs, once all succeeded."""
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "node.cli", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    outputs = []
    try:
        for command, child in zip(commands, children, strict=True):
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0, (command, out, err)
            outputs.append(out)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    return outputs


class Network:
    """The nodes of one test, made with ``banscan init``; all stopped at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: list[Node] = []

    def steward(self, name: str) -> Node:
        """A node with no steward configured: it is the network's steward."""
        return self._init([name], [])[0]

    def members(self, steward: Node, *names: str) -> list[Node]:
        """Nodes that trust ``steward``, not admitted yet."""
        return self._init(list(names), [steward.key])

    def _init(self, names: list[str], stewards: list[str]) -> list[Node]:
        # What ``banscan init`` does, in this process: a child process a node cost about
        # a second of CPU (tests/test_cli.py runs the command itself).
        made = [
            Node(name, self.root / name, DataDir(self.root / name).init(NETWORK, stewards).text)
            for name in names
        ]
        self.nodes.extend(made)
        return made

    def start(self, *nodes: Node) -> None:
        """Start ``nodes`` at once; return when all serve on their fixed ports."""
        processes = [node.launch() for node in nodes]
        for node, process in zip(nodes, processes, strict=True):
            assert process.wait_serving() == node.url

    def decide(self, steward: Node, *decisions: Sequence[str]) -> list[str]:
        """``banscan members ...`` on the steward's data directory, several at once
        (each publishes in its own transaction); what each printed."""
        return banscan_all(
            *(["members", *decision, "--data-dir", str(steward.data_dir)] for decision in decisions)
        )

    def admit(self, steward: Node, *nodes: Node, role: str = "chapter") -> None:
        self.decide(
            steward,
            *(["admit", node.key, "--role", role, "--name", node.name] for node in nodes),
        )

    def close(self) -> None:
        for node in self.nodes:
            if node.process is not None:
                node.kill()

    def logs(self) -> str:
        return "\n".join(
            f"--- {node.name} ({node.key}) ---\n" + "".join(node.logs[-60:]) for node in self.nodes
        )


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Network]:
    nodes = Network(tmp_path)
    try:
        yield nodes
    finally:
        nodes.close()
        # Shown with the captured output of a failing test.
        print(nodes.logs())


def test_a_record_crosses_a_line_of_five_nodes_by_eager_push(network: Network) -> None:
    steward = network.steward("steward")
    chapters = network.members(steward, "n1", "n2", "n3", "n4")
    line = [steward, *chapters]
    network.admit(steward, *chapters)
    for left, right in itertools.pairwise(line):
        left.add_peer(right)
        right.add_peer(left)
    network.start(steward)
    admissions = steward.record_ids(kind="membership")
    # In order along the line: a node that is not a member yet only pulls, when it
    # starts, so its neighbour must already hold the admissions.
    for chapter in chapters:
        network.start(chapter)
        eventually(partial(chapter.holds, *admissions), f"{chapter.name} holds the admissions")
    for node in line:
        eventually(node.settled, f"{node.name} has no peer in backoff")

    there = steward.publish("network", summary="Sent down the line.")
    eventually(lambda: line[-1].holds(there["id"]), "the steward's record reaches the far end")
    back = line[-1].publish("network", summary="Sent back up the line.")
    eventually(lambda: steward.holds(back["id"]), "the far end's record reaches the steward")
    for node in line:
        assert node.holds(there["id"], back["id"])
    # Both went hop by hop by eager push, not by anti-entropy rounds.
    for left, right in itertools.pairwise(line):
        assert left.peers()[right.key]["since_start"]["pushes"] >= 1
        assert right.peers()[left.key]["since_start"]["pushes"] >= 1


def test_each_audience_reaches_only_the_nodes_that_may_hold_it(network: Network) -> None:
    steward = network.steward("steward")
    chapter, other, coordinator, outsider = network.members(
        steward, "chapter", "other-chapter", "coordinator", "outsider"
    )
    network.admit(steward, chapter, other)
    network.admit(steward, coordinator, role="coordinator")
    for node in (chapter, other, coordinator, outsider):
        node.add_peer(steward)
        steward.add_peer(node)
    network.start(steward)
    by_steward = {audience: steward.publish(audience)["id"] for audience in AUDIENCES}
    network.start(chapter, other, coordinator, outsider)
    # Pulled when they start, as members or (the outsider) through the public routes.
    for node in (chapter, other, coordinator):
        eventually(partial(node.holds, by_steward["network"]), f"{node.name} pulls")
    eventually(lambda: outsider.holds(by_steward["public"]), "the outsider pulls")
    eventually(steward.settled, "the steward has no peer in backoff")
    # Pushed by the chapter to the steward, and on from there; one push at a time, in
    # this order, so once the last one has arrived everywhere the first one would have.
    by_chapter = {audience: chapter.publish(audience)["id"] for audience in reversed(AUDIENCES)}

    everyone = {steward, chapter, other, coordinator, outsider}
    expected = {
        "the steward's public record": (by_steward["public"], everyone),
        "the steward's network record": (by_steward["network"], everyone - {outsider}),
        "the steward's coordinators record": (by_steward["coordinators"], {steward, coordinator}),
        "the chapter's network record": (by_chapter["network"], everyone - {outsider}),
        "the chapter's public record": (by_chapter["public"], everyone),
        # A chapter may not receive coordinators records, but it may write them.
        "the chapter's coordinators record": (
            by_chapter["coordinators"],
            {chapter, steward, coordinator},
        ),
    }
    for label, (record_id, holders) in expected.items():
        for node in holders:
            eventually(
                partial(node.holds, record_id),
                f"{node.name} receives {label}",
            )
    # Everything that was sent has arrived: what is missing now was never sent.
    for label, (record_id, holders) in expected.items():
        for node in everyone - holders:
            assert not node.holds(record_id), f"{node.name} holds {label}"
    assert {view["audience"] for view in outsider.get("/api/v1/records")["records"]} == {"public"}


def test_a_node_cut_off_catches_up_when_it_comes_back(network: Network) -> None:
    steward = network.steward("steward")
    first, second = network.members(steward, "first", "second")
    nodes = [steward, first, second]
    network.admit(steward, first, second)
    for node in nodes:
        for peer in nodes:
            if peer is not node:
                node.add_peer(peer)
    network.start(steward)
    admissions = steward.record_ids(kind="membership")
    network.start(first, second)
    for node in (first, second):
        eventually(partial(node.holds, *admissions), f"{node.name} holds the admissions")
    for node in nodes:
        eventually(node.settled, f"{node.name} has no peer in backoff")

    second.stop()
    on_steward = steward.publish("network", summary="Published during the partition.")
    on_first = first.publish("public", summary="Also published during the partition.")
    eventually(lambda: first.holds(on_steward["id"]), "the first node hears from the steward")
    eventually(lambda: steward.holds(on_first["id"]), "the steward hears from the first node")
    cut_off = second.publish_offline("network", summary="Published by the node cut off.")

    network.start(second)
    published = {on_steward["id"], on_first["id"], cut_off}

    def converged() -> bool:
        held = [set(node.record_ids()) for node in nodes]
        return published <= held[0] and held[0] == held[1] == held[2]

    eventually(converged, "all three nodes hold the same records")


BULK = 5000


def feed_seqs(node: Node) -> dict[tuple[str, str], int]:
    """``banscan status --json``: the max contiguous seq of each feed the node holds."""
    result = banscan("status", "--json", "--data-dir", str(node.data_dir))
    assert result.returncode == 0, result.stderr
    feeds = json.loads(result.stdout)["feeds"]
    return {(f["origin"], f["audience"]): f["max_seq"] for f in feeds}


def test_a_sync_killed_midway_resumes_with_nothing_lost_or_duplicated(network: Network) -> None:
    steward = network.steward("steward")
    (puller,) = network.members(steward, "puller")
    network.admit(steward, puller)
    puller.add_peer(steward)
    # Small batches: many transactions, so the kill lands between or inside them.
    puller.env["BANSCAN_LIMITS_MAX_BATCH_RECORDS"] = "50"
    network.start(steward)
    key = DataDir(steward.data_dir).load_key()
    bulk = feed(key, BULK, audience="network", network_id=NETWORK)
    for start in range(0, BULK, 500):
        steward.import_records(bulk[start : start + 500])
    expected = steward.record_ids()
    assert len(expected) == BULK + 1  # and the admission

    network.start(puller)

    def midway() -> bool:
        view = puller.peers().get(steward.key)
        lags = [
            lag
            for lag in (view["behind"] if view else [])
            if (lag["origin"], lag["audience"]) == (steward.key, "network")
        ]
        return bool(lags) and 0 < lags[0]["ours"] < lags[0]["theirs"]

    eventually(midway, "the puller is midway through the pull", poll=0.005)
    puller.kill()
    held_at_kill = feed_seqs(puller).get((steward.key, "network"), 0)
    assert 0 < held_at_kill < BULK

    network.start(puller)

    def caught_up() -> bool:
        lag = puller.peers()[steward.key]["behind_records"]
        return lag == 0 and len(puller.record_ids()) == len(expected)

    eventually(caught_up, "the puller catches up after a restart")
    held = puller.record_ids()
    assert len(held) == len(set(held)) == len(expected)
    assert set(held) == set(expected)
    assert set(steward.record_ids()) == set(expected)  # and nothing came back to the steward
    puller.stop()
    assert feed_seqs(puller)[(steward.key, "network")] == BULK


def test_records_that_arrive_before_their_origins_admission_wait_in_quarantine(
    network: Network,
) -> None:
    steward = network.steward("steward")
    receiver, chapter = network.members(steward, "receiver", "chapter")
    network.admit(steward, receiver)
    # The receiver hears only from the chapter: the chapter's own records, and the
    # steward's admission of the receiver, come in the same batch.
    receiver.add_peer(chapter)
    chapter.add_peer(steward)
    steward.add_peer(receiver)
    network.start(steward)
    admissions = steward.record_ids(kind="membership")
    network.start(chapter)
    eventually(partial(chapter.holds, *admissions), "the chapter learns who the members are")
    early = chapter.publish("public", summary="Published before the chapter's admission.")

    network.start(receiver)

    def arrived() -> bool:
        stats = receiver.peers()[chapter.key]["since_start"]
        return stats is not None and stats["records_pulled"] >= 2

    eventually(arrived, "the receiver pulls the admission and the chapter's record")
    assert receiver.holds(*admissions)
    assert not receiver.holds(early["id"])  # quarantined: held, not served
    assert early["id"] not in receiver.record_ids("/api/v1/incidents")
    assert receiver.peers()[chapter.key]["role"] is None

    # ``banscan members`` writes to the steward's database: the steward is stopped
    # meanwhile, and passes the decision on to its peers when it starts again.
    steward.stop()
    network.admit(steward, chapter)
    network.start(steward)
    eventually(partial(receiver.holds, early["id"]), "the record is released from quarantine")
    assert receiver.peers()[chapter.key]["role"] == "chapter"
    assert early["id"] in receiver.record_ids("/api/v1/incidents")


def test_revocation_withdraws_what_the_key_signed_since_it_was_compromised(
    network: Network,
) -> None:
    steward = network.steward("steward")
    chapter, other = network.members(steward, "chapter", "other")
    network.admit(steward, chapter, other)
    for node in (chapter, other):
        node.add_peer(steward)
        steward.add_peer(node)
    network.start(steward)
    admissions = steward.record_ids(kind="membership")
    network.start(chapter, other)
    for node in (chapter, other):
        eventually(partial(node.holds, *admissions), f"{node.name} holds the admissions")
    eventually(chapter.settled, "the chapter has no peer in backoff")
    eventually(steward.settled, "the steward has no peer in backoff")

    before = [chapter.publish("network", summary=f"Before the compromise, {n}.") for n in (1, 2)]
    after = [chapter.publish("network", summary=f"After the compromise, {n}.") for n in (1, 2)]
    while after[0]["created_ms"] <= before[-1]["created_ms"]:  # one clock millisecond apart
        after = [*after[1:], chapter.publish("network", summary="After the compromise, again.")]
    kept = [view["id"] for view in before]
    withdrawn = [view["id"] for view in after]
    for node in (steward, other):
        eventually(partial(node.holds, *kept, *withdrawn), f"{node.name} receives")

    steward.stop()
    since = rfc3339(after[0]["created_ms"])
    network.decide(steward, ["revoke", chapter.key, "--compromised-since", since])
    network.start(steward)

    def applied(node: Node) -> bool:
        # Withdrawn as a retraction withdraws: the signed envelope stays, the body goes.
        views = [node.record(record_id) for record_id in withdrawn]
        return all(view is not None and view["erased"] for view in views)

    for node in (steward, other, chapter):
        eventually(partial(applied, node), f"{node.name} withdraws the later records")
        listed = set(node.record_ids("/api/v1/incidents"))
        assert set(kept) <= listed
        assert not set(withdrawn) & listed
        for record_id in kept:
            view = node.record(record_id)
            assert view is not None
            assert not view["erased"]


def test_a_decision_made_on_a_running_steward_reaches_its_peers_at_once(
    network: Network,
) -> None:
    steward = network.steward("steward")
    (member,) = network.members(steward, "member")
    network.admit(steward, member)
    steward.add_peer(member)
    member.add_peer(steward)
    network.start(steward)
    admissions = steward.record_ids(kind="membership")
    network.start(member)
    eventually(partial(member.holds, *admissions), "the member holds its admission")
    eventually(steward.settled, "the steward has no peer in backoff")

    newcomer = seeded_key("a newcomer").text
    (decision,) = network.decide(
        steward, ["admit", newcomer, "--role", "chapter", "--name", "Newcomer"]
    )
    eventually(
        partial(member.holds, decision.strip()),
        "the member receives the steward's decision",
        within_s=5,  # an eager push takes milliseconds
    )
