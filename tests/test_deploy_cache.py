"""deploy/nginx.conf's cache, run for real: nginx over TLS in front of a real node process.

The node's request log (one JSON line per request) says which requests reached
it, so the test sees what nginx answered from its cache and what it passed on.
"""

import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.factories import incident_body
from tests.nodeproc import NodeProcess, banscan, running_node
from tests.polling import eventually
from tests.ports import free_port
from tests.test_deploy import NGINX_HOW, SLOW_SETUP, _read, nginx_config, tool

RECORDS = "/api/v1/records"


class Site:
    """HTTPS requests to nginx on the loopback, as to nyc.example.org."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.context = ssl.create_default_context()
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            f"https://127.0.0.1:{self.port}{path}",
            headers={"Host": f"nyc.example.org:{self.port}", **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()


def reached_node(node: NodeProcess, route: str) -> list[int]:
    """Statuses of the GETs of ``route`` the node has logged so far."""
    statuses = []
    for line in list(node.stderr_lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if (entry.get("event"), entry.get("route"), entry.get("method")) == (
            "request",
            route,
            "GET",
        ):
            statuses.append(int(entry["status"]))
    return statuses


def publish(url: str, token: str) -> None:
    payload = {"kind": "incident", "audience": "public", "body": incident_body()}
    request = urllib.request.Request(
        url.rstrip("/") + RECORDS,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 201


@contextmanager
def nginx_in_front(tmp_path: Path, upstream: int) -> Iterator[Site]:
    nginx = tool("nginx", NGINX_HOW)
    https_port = free_port()
    config = nginx_config(tmp_path, https_port=https_port, http_port=free_port(), upstream=upstream)
    process = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    site = Site(https_port)

    def serving() -> bool:
        assert process.poll() is None, _read(tmp_path / "error.log")
        try:
            return site.get("/api/v1/node")[0] == 200
        except (urllib.error.URLError, OSError):
            return False

    try:
        eventually(serving, lambda: _read(tmp_path / "error.log"), within_s=60, poll=0.2)
        yield site
    finally:
        process.terminate()
        process.wait(30)


@SLOW_SETUP
def test_nginx_caches_anonymous_reads_and_never_answers_with_a_token(tmp_path: Path) -> None:
    data = tmp_path / "node"
    assert banscan("init", "--data-dir", str(data)).returncode == 0
    created = banscan("token", "create", "--data-dir", str(data), "--role", "publisher")
    token = created.stdout.strip()
    env = {"BANSCAN_READS_MAX_AGE_S": "2", "BANSCAN_LOG_FORMAT": "json"}
    with running_node(data, env) as node:
        publish(node.url, token)
        upstream = int(node.url.rstrip("/").rsplit(":", 1)[1])
        proxy = tmp_path / "nginx"
        proxy.mkdir()
        with nginx_in_front(proxy, upstream) as site:
            status, headers, first = site.get(RECORDS)
            assert status == 200
            assert headers["Cache-Control"] == "public, max-age=2"
            assert "ETag" in headers
            assert site.get(RECORDS)[2] == first
            # The second read was answered by nginx from its cache.
            assert reached_node(node, RECORDS) == [200]

            # With a token: always passed on, never stored, never shared.
            for _ in range(2):
                status, headers, _ = site.get(RECORDS, Authorization=f"Bearer {token}")
                assert status == 200
                assert headers["Cache-Control"] == "private, no-store"
            assert reached_node(node, RECORDS) == [200, 200, 200]
            site.get(f"{RECORDS}?limit=5", Authorization=f"Bearer {token}")
            status, _, body = site.get(f"{RECORDS}?limit=5")
            assert status == 200
            assert json.loads(body)["audiences"] == ["public"]
            assert reached_node(node, RECORDS) == [200] * 5

            # Once stale, nginx revalidates its copy: the node answers 304.
            time.sleep(2.5)
            status, _, body = site.get(RECORDS)
            assert (status, body) == (200, first)
            eventually(
                lambda: 304 in reached_node(node, RECORDS),
                lambda: f"node saw {reached_node(node, RECORDS)}",
                within_s=10,
            )
