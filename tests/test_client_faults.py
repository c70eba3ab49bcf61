"""Clients that go away mid-request or send what is not HTTP, against a real node process.

A report upload cut off mid-body is no error of the node: nothing is answered,
nothing is logged about the report routes (a timestamped line could be matched
against a network log), and it is counted apart in ``/metrics``. Malformed
request lines and headers are answered as problem+json where the parser lets
the node answer, and aiohttp's own log lines come out as JSON like every other
line, without the client's address or the bytes it sent.
"""

import json
import logging
import re
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from node.datadir import DataDir
from node.logs import configure_logging
from tests.nodeproc import NodeProcess, running_node
from tests.polling import eventually

# The probes connect from this loopback address, so that it cannot be confused with
# the node's own 127.0.0.1 (in its "serving" line).
CLIENT_HOST = "127.0.0.2"
CSRF_COOKIE = "banscan_csrf=" + "c" * 43
ABORTED = re.compile(r'^banscan_requests_aborted_total\{reason="client-gone"\} (\d+)\.0$', re.M)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcess]:
    directory = tmp_path / "node"
    DataDir(directory).init("banthescan", [])
    with running_node(directory) as serving:
        yield serving


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((CLIENT_HOST, 0))
    sock.settimeout(30)
    sock.connect((host, int(port)))
    return sock


def answer(sock: socket.socket) -> bytes:
    """Everything the node sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def metrics(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as response:
        text: str = response.read().decode("utf-8")
    return text


def aborted(url: str) -> int:
    match = ABORTED.search(metrics(url))
    return int(match.group(1)) if match else 0


def json_lines(node: NodeProcess) -> list[dict[str, object]]:
    lines = list(node.stderr_lines)
    for line in lines:
        assert line.lstrip().startswith("{"), f"not a JSON log line: {line!r}"
    return [json.loads(line) for line in lines]


def cut_off(url: str, head: str) -> None:
    """Send a request's head and part of its body, then go away."""
    with connect(url) as sock:
        sock.sendall(head.encode("ascii") + b"\r\n" + b'{"kind": "incident", "bo')


def test_a_report_cut_off_mid_body_is_counted_apart_and_not_logged(node: NodeProcess) -> None:
    cut_off(
        node.url,
        "POST /api/v1/submissions HTTP/1.1\r\nHost: node\r\n"
        "Content-Type: application/json\r\nContent-Length: 5000\r\n",
    )
    cut_off(
        node.url,
        "POST /report HTTP/1.1\r\nHost: node\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Cookie: {CSRF_COOKIE}\r\nContent-Length: 5000\r\n",
    )

    eventually(lambda: aborted(node.url) == 2, lambda: metrics(node.url))
    text = metrics(node.url)
    assert 'status="500"' not in text
    assert 'route="/api/v1/submissions"' not in text
    assert 'route="/report"' not in text
    events = json_lines(node)
    assert not [e for e in events if e.get("log_level") in ("error", "warning")]
    assert not [e for e in events if "/report" in repr(e) or "submissions" in repr(e)]


BAD_HEADER = "X-Probe-Secret: reporter-phone-\x01-marker"
MALFORMED = [
    "GET /healthz HTTP/1.1\r\nHost: node\r\n" + BAD_HEADER + "\r\n\r\n",
    "GET /healthz HTTP/1.1\r\nHost: node\r\nNo colon reporter-phone-marker\r\n\r\n",
    "GET /healthz HTTP/9.reporter-phone-marker\r\nHost: node\r\n\r\n",
    "GET /healthz HTTP/1.1\r\nHost: node\r\nContent-Length: reporter-phone-marker\r\n\r\n",
]


@pytest.mark.parametrize("request_text", MALFORMED, ids=["control", "colon", "version", "length"])
def test_malformed_requests_are_problems_and_log_only_json(
    node: NodeProcess, request_text: str
) -> None:
    with connect(node.url) as sock:
        sock.sendall(request_text.encode("latin-1"))
        received = answer(sock)

    head, _, body = received.partition(b"\r\n\r\n")
    # aiohttp answers what it could not parse as HTTP/1.0.
    assert re.match(rb"HTTP/1\.[01] 400 ", head), received
    assert b"content-type: application/problem+json" in head.lower()
    problem = json.loads(body)
    assert problem["status"] == 400
    assert problem["type"] == "urn:banscan:problem:bad-request"
    assert b"reporter-phone" not in received

    def logged() -> list[dict[str, object]]:
        return [e for e in json_lines(node) if e.get("event") == "malformed request"]

    eventually(logged, lambda: "".join(node.stderr_lines))
    for line in node.stderr_lines:
        assert CLIENT_HOST not in line
        assert "reporter-phone" not in line
        assert "X-Probe" not in line


@pytest.fixture
def library_records() -> Iterator[None]:
    """The node's logging set up in this process, and put back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    saved = structlog.get_config()
    configure_logging("info", "json")
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**saved)


@pytest.mark.usefixtures("library_records")
def test_library_records_keep_their_template_but_not_what_was_formatted_into_it() -> None:
    with structlog.testing.capture_logs() as events:
        try:
            raise ValueError("Invalid header value char: b'X-Probe-Secret: reporter-phone'")
        except ValueError:
            logging.getLogger("aiohttp.server").exception(
                "Error handling request from %s", "203.0.113.9"
            )
        logging.getLogger("aiohttp.access").info('%a "%r" %s', "198.51.100.4", "GET /x", 200)
        logging.getLogger("aiohttp.client").debug("below the level: %s", "dropped")

    assert events == [
        {
            "event": "Error handling request from (withheld)",
            "logger": "aiohttp.server",
            "error": "ValueError",
            "log_level": "error",
        },
        {
            "event": '(withheld) "(withheld)" (withheld)',
            "logger": "aiohttp.access",
            "log_level": "info",
        },
    ]
