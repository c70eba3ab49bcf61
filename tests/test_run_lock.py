"""``banscan run``, ``init`` and ``status`` as a new operator meets them, with real processes
(``status`` runs in the test's process, looking at real node processes).

One ``banscan run`` per data directory (a lock released on exit and after kill -9);
a port in use or a file given as the data directory ends with a message saying what
to do, never a traceback; ``status`` says "running" only for this directory's node.
"""

import http.server
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from node.config import LOCK_FILE, URL_FILE
from node.datadir import DataDir
from tests.inprocess import cli
from tests.nodeproc import banscan, running_node
from tests.ports import HOST


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "node"
    DataDir(directory).init("banthescan", [])
    return directory


def server_line(
    capsys: pytest.CaptureFixture[str], data_dir: Path, env: dict[str, str] | None = None
) -> str:
    """The ``server`` line of ``banscan status``, run in this process (the nodes it looks
    at are real processes; a child process more would cost seconds on a loaded machine)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        result = cli(capsys, "status", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("server")]
    assert len(lines) == 1, result.stdout
    return lines[0]


def refused_cleanly(result: subprocess.CompletedProcess[str]) -> str:
    """The one-line error of a command that could not run (exit status 2), no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("banscan: error: "), result.stderr
    return result.stderr


def test_a_second_run_on_one_data_directory_refuses_and_the_lock_outlives_no_process(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_node(node_dir) as first:
        second = banscan("run", "--data-dir", str(node_dir), "--host", HOST, "--port", "0")
        message = refused_cleanly(second)
        assert f"(pid {first.pid}) is already serving the node in {node_dir}" in message
        assert first.url in message
        assert "another --data-dir" in message
        # The first one was not disturbed: same URL in node.url, still this node.
        assert (node_dir / URL_FILE).read_text(encoding="utf-8").strip() == first.url
        assert server_line(capsys, node_dir).startswith(
            f"server    running at {first.url} (health 200"
        )
        rotate = refused_cleanly(banscan("rotate-key", "--data-dir", str(node_dir)))
        assert f"the node is running (pid {first.pid}); stop it before rotating its key" in rotate
        first.kill()  # kill -9: no chance to clean up; the kernel drops the lock
    assert (node_dir / URL_FILE).exists()  # left behind by the killed node
    assert "not running" in server_line(capsys, node_dir)
    with running_node(node_dir) as again:
        assert again.url
        assert again.stop() == 0
    with running_node(node_dir) as third:  # a clean stop released it too
        assert third.stop() == 0
    assert (node_dir / LOCK_FILE).exists()


def test_run_on_a_port_in_use_says_to_give_another_port(node_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = banscan("run", "--data-dir", str(node_dir), "--host", HOST, "--port", str(port))
    message = refused_cleanly(result)
    assert f"cannot listen on {HOST}:{port}: the port is in use" in message
    assert "--port" in message
    # It let go of the data directory: a run on a free port starts.
    with running_node(node_dir) as node:
        assert node.stop() == 0


def test_init_on_a_file_says_to_give_a_directory(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a node\n", encoding="utf-8")
    message = refused_cleanly(banscan("init", "--data-dir", str(a_file)))
    assert f"{a_file} is a file, not a directory" in message
    message = refused_cleanly(banscan("init", "--data-dir", str(a_file / "node")))
    assert f"{a_file} is a file, not a directory" in message
    assert a_file.read_text(encoding="utf-8") == "not a node\n"


@contextmanager
def plain_http_server() -> Iterator[int]:
    """Something that is not a banscan node, answering HTTP on a free port."""

    class Quiet(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>a router's admin page</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((HOST, 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_status_is_not_fooled_by_another_node_or_program_on_its_port(
    tmp_path: Path, node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other_dir = tmp_path / "other"
    other_key = DataDir(other_dir).init("banthescan", []).text
    with running_node(other_dir) as other:
        port = other.url.rsplit(":", 1)[1]
        # This node is configured for the port the other one serves on.
        env = {"BANSCAN_NODE_PORT": port, "BANSCAN_NODE_HOST": HOST}
        line = server_line(capsys, node_dir, env)
        assert "running at" not in line
        assert line.startswith("server    not running; another node")
        assert other_key in line
        assert "--port" in line
        assert server_line(capsys, other_dir).startswith(f"server    running at {other.url}")
    with plain_http_server() as port_number:
        env = {"BANSCAN_NODE_PORT": str(port_number), "BANSCAN_NODE_HOST": HOST}
        line = server_line(capsys, node_dir, env)
        assert "running at" not in line
        assert "another program (not a banscan node)" in line
