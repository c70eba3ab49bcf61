"""``banscan dev-network``: three real nodes that converge, and stop together on SIGINT."""

import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from node.cli import main
from node.cli.devnet.demo import city_for, demo_records
from node.moderation.keyfile import load_moderator_key
from protocol.kinds import validate_body
from tests.factories import incident_body
from tests.polling import eventually
from tests.ports import free_port_range

pytestmark = pytest.mark.slow

DEADLINE_S = 30.0
ROW = re.compile(r"^(node-\d+)\s+(steward|chapter)\s+(http://\S+)\s+(ed25519:\S+)\s+(bst_\S+)$")
DATA = re.compile(r"data in (\S+) \(removed on exit\)")


def listening(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def processes_mentioning(text: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and proc.name != str(os.getpid()):
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if text.encode() in cmdline:
                pids.append(int(proc.name))
    return pids


class DevNetwork:
    """``banscan dev-network`` in a child process; its output read as it comes."""

    def __init__(self, *args: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "dev-network", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dev-network exited: {self.proc.communicate()[1]}")
            return any("Press Ctrl-C" in line for line in self.lines)

        eventually(ready, "dev-network starts", within_s=60)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        self._reader.join(30)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def test_three_nodes_converge_and_stop_on_sigint() -> None:
    base = free_port_range(3)
    network = DevNetwork("--nodes", "3", "--base-port", str(base))
    try:
        network.wait_ready()
        rows = [match.groups() for line in network.lines if (match := ROW.match(line))]
        data = next(m.group(1) for line in network.lines if (m := DATA.search(line)))
        assert [(name, role, url) for name, role, url, _, _ in rows] == [
            ("node-1", "steward", f"http://127.0.0.1:{base}"),
            ("node-2", "chapter", f"http://127.0.0.1:{base + 1}"),
            ("node-3", "chapter", f"http://127.0.0.1:{base + 2}"),
        ]
        assert len({key for *_, key, _ in rows}) == 3
        urls = [url for _, _, url, _, _ in rows]

        # A chapter publishes; every node must come to serve the record.
        _, _, url, _, token = rows[2]
        request = urllib.request.Request(
            f"{url}/api/v1/records",
            data=json.dumps(
                {"kind": "incident", "audience": "public", "body": incident_body()}
            ).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 201
            record_id = json.load(response)["id"]
        waiting = set(urls)

        def converged() -> bool:
            waiting.difference_update(
                [u for u in waiting if get_status(f"{u}/api/v1/records/{record_id}") == 200]
            )
            return not waiting

        eventually(converged, lambda: f"not converged: {sorted(waiting)} lack it", DEADLINE_S, 0.1)

        # Every node published its demo records, and every node comes to show them all,
        # on a home page that says they are demo data.
        def demo_everywhere() -> bool:
            return all(
                json.load(urllib.request.urlopen(f"{u}/api/v1/stats?kind=deployment", timeout=10))[
                    "total"
                ]["count"]
                == 10 + 8 + 6  # London, Madrid, Berlin
                for u in urls
            )

        eventually(demo_everywhere, "every node holds every node's demo cameras", DEADLINE_S, 0.2)
        with urllib.request.urlopen(f"{urls[0]}/?lang=en", timeout=10) as response:
            home = response.read().decode()
        assert "Demo data." in home
        assert '<span class="number">24</span>' in home
        assert "Madrid, Spain" in home
        assert "Berlin, Germany" in home

        # Every node takes reports, sealed to the demo moderator key written beside them.
        assert all(get_status(f"{u}/report") == 200 for u in urls)
        assert load_moderator_key(Path(data) / "moderator.key").public.text

        network.proc.send_signal(signal.SIGINT)
        assert network.proc.wait(60) == 0
        assert not [u for u in urls if listening(u)]
        assert processes_mentioning(data) == []
        assert not Path(data).exists()
        assert network.lines[-1] == "all nodes stopped"
    finally:
        network.close()


def test_a_busy_port_is_named_and_nothing_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = free_port_range(3)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", base + 1))
        busy.listen()
        status = main(
            ["dev-network", "--nodes", "3", "--base-port", str(base), "--dir", str(tmp_path / "n")]
        )
    assert status == 2
    assert f"port {base + 1} on 127.0.0.1 is in use" in capsys.readouterr().err
    assert not (tmp_path / "n").exists()


def test_dev_network_checks_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dev-network", "--nodes", "0"]) == 2
    assert "--nodes must be from 1 to 16" in capsys.readouterr().err
    assert main(["dev-network", "--base-port", "65535"]) == 2
    assert "--base-port must be from 1 to 65533" in capsys.readouterr().err


def test_demo_records_are_valid_and_marked_as_demo() -> None:
    for number in (1, 2, 3, 4):
        records = demo_records(number, datetime.date(2026, 1, 31))
        kinds = [kind for kind, _ in records]
        assert (kinds.count("deployment"), kinds.count("incident")) == (
            len(city_for(number).places),
            12,
        )
        for kind, body in records:
            validate_body(kind, body)
            if kind == "incident":
                assert body["summary"].startswith("DEMO")
                assert "demo" in body["tags"]
                assert len(body["area"]) == 5
                assert body["occurred_on"]["date"] <= "2026-01-31"
            else:
                assert body["osm"]["note"].startswith("DEMO")
                assert body["osm"]["operator"].startswith("DEMO")
            assert all(s["url"].startswith("https://example.org/demo/") for s in body["sources"])
    assert {demo_records(n, datetime.date(2026, 1, 31))[0][1]["city"] for n in (1, 2, 3)} == {
        "London",
        "Madrid",
        "Berlin",
    }
