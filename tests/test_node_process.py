"""``banscan run`` as a real process: serving, status, graceful shutdown, the default data dir."""

import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from node.config import DATABASE_FILE, KEY_FILE, URL_FILE
from node.datadir import DataDir
from protocol.records import encode_batch
from tests.conftest import admit_in
from tests.factories import deployment_body, feed, incident_body, seeded_key
from tests.nodeproc import SERVING, banscan, running_node
from tests.polling import eventually

BATCH_RECORDS = 500
DEFAULT_PORT = 8470  # node.port when neither the config nor the command line sets it


def http_json(
    url: str, *, token: str | None = None, data: bytes | None = None, content_type: str = ""
) -> tuple[int, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def create_token(data_dir: Path, role: str = "publisher") -> str:
    result = banscan("token", "create", "--data-dir", str(data_dir), "--role", role)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def count_by_origin(data_dir: Path, origin: bytes) -> int:
    db = sqlite3.connect(data_dir / DATABASE_FILE)
    try:
        row = db.execute("SELECT COUNT(*) FROM records WHERE origin = ?", (origin,)).fetchone()
    finally:
        db.close()
    return int(row[0])


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "node"
    DataDir(directory).init("banthescan", [])
    return directory


def test_serves_on_the_printed_url(node_dir: Path) -> None:
    with running_node(node_dir) as node:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", node.url)
        assert (node_dir / URL_FILE).read_text(encoding="utf-8").strip() == node.url
        status, health = http_json(f"{node.url}/healthz")
        assert status == 200
        assert health["status"] == "ok"
        status, info = http_json(f"{node.url}/api/v1/node")
        assert status == 200
        assert info["key"] == DataDir(node_dir).load_key().text
        assert info["network_id"] == "banthescan"
        assert node.stop() == 0
    assert not (node_dir / URL_FILE).exists()


def test_status_reports_a_running_node_and_its_counts(node_dir: Path) -> None:
    token = create_token(node_dir)
    with running_node(node_dir) as node:
        for kind, audience, body in [
            ("incident", "public", incident_body()),
            ("incident", "public", incident_body(city="Boston")),
            ("deployment", "network", deployment_body()),
        ]:
            payload = json.dumps({"kind": kind, "audience": audience, "body": body}).encode()
            status, created = http_json(
                f"{node.url}/api/v1/records",
                token=token,
                data=payload,
                content_type="application/json",
            )
            assert status == 201, created
        text = banscan("status", "--data-dir", str(node_dir))
        assert text.returncode == 0, text.stderr
        assert f"running at {node.url}" in text.stdout
        assert re.search(r"^records\s+3$", text.stdout, re.MULTILINE)
        assert re.search(r"^\s+2\s+incident\s+public$", text.stdout, re.MULTILINE)
        assert re.search(r"^\s+1\s+deployment\s+network$", text.stdout, re.MULTILINE)
        as_json = banscan("status", "--data-dir", str(node_dir), "--json")
        assert as_json.returncode == 0, as_json.stderr
        report = json.loads(as_json.stdout)
        assert report["server"].startswith(f"running at {node.url}")
        assert report["key"] == DataDir(node_dir).load_key().text
        assert sorted((r["kind"], r["audience"], r["count"]) for r in report["records"]) == [
            ("deployment", "network", 1),
            ("incident", "public", 2),
        ]
        assert node.stop() == 0
    stopped = banscan("status", "--data-dir", str(node_dir))
    assert stopped.returncode == 0, stopped.stderr
    assert "server    not running (nothing answers at" in stopped.stdout
    assert re.search(r"^records\s+3$", stopped.stdout, re.MULTILINE)


def import_head(url: str, token: str, length: int, *, expect_continue: bool = False) -> bytes:
    """The head of an import request, to be sent over a plain socket a piece at a time."""
    expect = "Expect: 100-continue\r\n" if expect_continue else ""
    return (
        f"POST /api/v1/records/import HTTP/1.1\r\nHost: {url.removeprefix('http://')}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/msgpack\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n{expect}\r\n"
    ).encode()


def read_interim(sock: socket.socket) -> bytes:
    """An interim ``100 Continue`` answer, whole."""
    received = b""
    while not received.endswith(b"\r\n\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        received += chunk
    return received


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def not_listening(url: str) -> bool:
    try:
        with socket.create_connection(address(url), timeout=5):
            return False
    # Reset: the connection was queued when the listening socket closed.
    except (ConnectionRefusedError, ConnectionResetError):
        return True


def read_status(sock: socket.socket) -> int | None:
    """The HTTP status the server answered with, or None when it answered nothing."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", received)
    return int(match.group(1)) if match else None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_lets_a_request_in_flight_finish(node_dir: Path, sig: signal.Signals) -> None:
    """The signal lands while the server is handling a request whose body is still
    arriving: the node stops listening, takes the rest of the body, stores and answers."""
    token = create_token(node_dir)
    key = seeded_key(f"in flight {sig.name}")
    admit_in(node_dir, key.public_key)
    body = encode_batch(feed(key, BATCH_RECORDS))
    with running_node(node_dir) as node:
        head = import_head(node.url, token, len(body), expect_continue=True)
        with socket.create_connection(address(node.url), timeout=60) as sock:
            sock.sendall(head)
            # "100 Continue" comes from the request's handler: it is in progress.
            assert read_interim(sock).startswith(b"HTTP/1.1 100 Continue")
            sock.sendall(body[: len(body) // 2])
            os.kill(node.pid, sig)
            # At once: the rest of the body must arrive while the node is shutting down.
            eventually(lambda: not_listening(node.url), "the node stops listening", poll=0)
            sock.sendall(body[len(body) // 2 :])
            answered = read_status(sock)
        assert node._proc.wait(60) == 0
    assert not (node_dir / URL_FILE).exists()
    assert answered == 200
    assert count_by_origin(node_dir, key.public_key) == BATCH_RECORDS


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_never_loses_an_acknowledged_import(node_dir: Path, sig: signal.Signals) -> None:
    """A whole request sent just before the signal is either stored and answered, or not
    answered at all; in both cases its batch is all there or not there."""
    token = create_token(node_dir)
    key = seeded_key(f"just before {sig.name}")
    admit_in(node_dir, key.public_key)
    body = encode_batch(feed(key, BATCH_RECORDS))
    with running_node(node_dir) as node:
        head = import_head(node.url, token, len(body))
        with socket.create_connection(address(node.url), timeout=60) as sock:
            sock.sendall(head + body)
            os.kill(node.pid, sig)
            answered = read_status(sock)
        assert node._proc.wait(60) == 0
    assert not (node_dir / URL_FILE).exists()
    stored = count_by_origin(node_dir, key.public_key)
    assert answered in (200, None)
    assert stored in (0, BATCH_RECORDS)
    if answered == 200:
        assert stored == BATCH_RECORDS


def test_run_rejects_a_port_out_of_range(node_dir: Path) -> None:
    result = banscan("run", "--data-dir", str(node_dir), "--port", "70000")
    assert result.returncode == 2
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr


class RunCommand:
    """``banscan run`` with no arguments, in a child process with its own environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.url = ""
        self._served = threading.Event()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "run"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self._reader = threading.Thread(target=self._read, name="banscan-run-stdout")
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if match := SERVING.search(line):
                self.url = match.group(1)
                self._served.set()

    def wait_serving(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while not self._served.wait(0.05):
            if self._proc.poll() is not None:
                raise RuntimeError(f"banscan run exited with {self._proc.returncode}: {self.lines}")
            if time.monotonic() > deadline:
                raise TimeoutError("banscan run did not start serving in time")
        return self.url

    def stop(self) -> int:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
        try:
            return self._proc.wait(30)
        finally:
            self._proc.kill()
            self._proc.wait()
            self._reader.join(30)
            assert self._proc.stdout is not None
            self._proc.stdout.close()


def fresh_machine_env(home: Path, xdg_data_home: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BANSCAN_", "XDG_"))}
    env.update(HOME=str(home), BANSCAN_NODE_PORT="0")
    if xdg_data_home is not None:
        env["XDG_DATA_HOME"] = str(xdg_data_home)
    return env


def run_default(env: dict[str, str]) -> tuple[list[str], str]:
    """Start ``banscan run``, check it serves, stop it; its stdout lines and its URL."""
    run = RunCommand(env)
    try:
        url = run.wait_serving()
        assert http_json(f"{url}/healthz")[0] == 200
    finally:
        assert run.stop() == 0
    return run.lines, url


@contextmanager
def default_port_taken() -> Iterator[None]:
    """Something listens on the default port (node.port, 8470) while this lasts."""
    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.1", DEFAULT_PORT))
            holder.listen()
        except OSError:
            pass  # something else listens there already: just as good
        yield


def test_no_test_needs_the_default_port_free(node_dir: Path, tmp_path: Path) -> None:
    """The nodes these tests start, with a data directory or with none, pick a free port
    (port 0), so that the suite passes beside a node serving on the default port."""
    home = tmp_path / "home"
    home.mkdir()
    with default_port_taken():
        with running_node(node_dir) as node:
            assert address(node.url)[1] != DEFAULT_PORT
            assert http_json(f"{node.url}/healthz")[0] == 200
        _, url = run_default(fresh_machine_env(home, None))
        assert address(url)[1] != DEFAULT_PORT


@pytest.mark.parametrize("use_xdg", [True, False], ids=["XDG_DATA_HOME", "HOME"])
def test_run_with_no_arguments_creates_a_default_data_dir(tmp_path: Path, use_xdg: bool) -> None:
    home = tmp_path / "home"
    home.mkdir()
    xdg = tmp_path / "xdg"
    expected = xdg / "banscan" if use_xdg else home / ".local" / "share" / "banscan"

    lines, url = run_default(fresh_machine_env(home, xdg if use_xdg else None))

    assert any(f"created a new node in {expected}" in line for line in lines), lines
    assert any(url in line for line in lines), lines
    key = DataDir(expected).load_key()
    assert any(key.text in line for line in lines), lines
    assert stat.S_IMODE((expected / KEY_FILE).stat().st_mode) == 0o600
    assert not (expected / URL_FILE).exists()


def test_run_with_no_arguments_uses_the_existing_default_node(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    xdg = tmp_path / "xdg"
    key = DataDir(xdg / "banscan").init("banthescan", [])

    lines, _ = run_default(fresh_machine_env(home, xdg))

    assert not any("created" in line for line in lines), lines
    assert any(key.text in line for line in lines), lines
