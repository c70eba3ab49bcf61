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
from email.message import Message
from pathlib import Path

from tests.factories import incident_body
from tests.nodeproc import NodeProcess, banscan, running_node
from tests.polling import eventually
from tests.ports import free_port
from tests.test_deploy import (
    CADDY_HOW,
    CADDYFILE,
    NGINX_HOW,
    SLOW_SETUP,
    _read,
    caddy_env,
    nginx_config,
    tool,
)

RECORDS = "/api/v1/records"


class Site:
    """Requests to a proxy on the loopback: HTTPS as to nyc.example.org, or plain HTTP."""

    def __init__(self, port: int, scheme: str = "https") -> None:
        self.port, self.scheme = port, scheme
        self.context = ssl.create_default_context()
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE
        self.host = f"nyc.example.org:{port}" if scheme == "https" else f"127.0.0.1:{port}"

    def get(self, path: str, **headers: str) -> tuple[int, Message, bytes]:
        """Status, headers (looked up in any case: Caddy sends Go's Etag) and body."""
        request = urllib.request.Request(
            f"{self.scheme}://127.0.0.1:{self.port}{path}",
            headers={"Host": self.host, **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context) as answer:
                return answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()


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


def reached_exactly(node: NodeProcess, route: str, statuses: list[int]) -> None:
    """The node has logged exactly these GETs of ``route``: its log lines arrive through a
    pipe, so a busy machine may show the last one a moment late."""
    eventually(
        lambda: reached_node(node, route) == statuses,
        lambda: f"node saw {reached_node(node, route)}, not {statuses}",
        within_s=10,
        poll=0.1,
    )


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


@contextmanager
def caddy_in_front(tmp_path: Path, upstream: int) -> Iterator[Site]:
    caddy = tool("caddy", CADDY_HOW)
    port, admin = free_port(), free_port()
    config = tmp_path / "Caddyfile"
    config.write_text(
        _read(CADDYFILE).replace("admin 127.0.0.1:2019", f"admin 127.0.0.1:{admin}"),
        encoding="utf-8",
    )
    env = caddy_env(
        tmp_path, SITE_ADDRESS=f"http://127.0.0.1:{port}", NODE_UPSTREAM=f"127.0.0.1:{upstream}"
    )
    with (tmp_path / "caddy.log").open("w") as log:
        process = subprocess.Popen(
            [caddy, "run", "--config", str(config), "--adapter", "caddyfile"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    site = Site(port, "http")

    def serving() -> bool:
        assert process.poll() is None, _read(tmp_path / "caddy.log")
        try:
            return site.get("/api/v1/node")[0] == 200
        except (urllib.error.URLError, OSError):
            return False

    try:
        eventually(serving, lambda: _read(tmp_path / "caddy.log"), within_s=60, poll=0.2)
        yield site
    finally:
        process.terminate()
        process.wait(30)


def started_node(tmp_path: Path) -> tuple[Path, str]:
    data = tmp_path / "node"
    assert banscan("init", "--data-dir", str(data)).returncode == 0
    created = banscan("token", "create", "--data-dir", str(data), "--role", "publisher")
    return data, created.stdout.strip()


@SLOW_SETUP
def test_caddy_passes_the_nodes_validators_and_304s_through(tmp_path: Path) -> None:
    """Caddy has no cache of its own: it must keep what lets browsers and caches downstream
    cache safely, and let conditional requests reach the node."""
    data, token = started_node(tmp_path)
    with running_node(data, {"BANSCAN_LOG_FORMAT": "json"}) as node:
        publish(node.url, token)
        proxy = tmp_path / "caddy"
        proxy.mkdir()
        with caddy_in_front(proxy, int(node.url.rstrip("/").rsplit(":", 1)[1])) as site:
            status, headers, _ = site.get(RECORDS)
            assert status == 200
            assert headers["Cache-Control"] == "public, max-age=1"
            assert headers["Vary"] == "Authorization"
            assert site.get(RECORDS, **{"If-None-Match": headers["ETag"]})[0] == 304
            eventually(lambda: 304 in reached_node(node, RECORDS), "the node answered 304")
            _, private, _ = site.get(RECORDS, Authorization=f"Bearer {token}")
            assert private["Cache-Control"] == "private, no-store"
            assert "ETag" not in private


@SLOW_SETUP
def test_nginx_caches_anonymous_reads_and_never_answers_with_a_token(tmp_path: Path) -> None:
    data, token = started_node(tmp_path)
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
            reached_exactly(node, RECORDS, [200])

            # With a token: always passed on, never stored, never shared.
            for _ in range(2):
                status, headers, _ = site.get(RECORDS, Authorization=f"Bearer {token}")
                assert status == 200
                assert headers["Cache-Control"] == "private, no-store"
            reached_exactly(node, RECORDS, [200, 200, 200])
            site.get(f"{RECORDS}?limit=5", Authorization=f"Bearer {token}")
            status, _, body = site.get(f"{RECORDS}?limit=5")
            assert status == 200
            assert json.loads(body)["audiences"] == ["public"]
            reached_exactly(node, RECORDS, [200] * 5)

            # Once stale, nginx revalidates its copy (serving it meanwhile): the
            # node answers 304.
            time.sleep(2.5)

            def revalidated() -> bool:
                status, _, body = site.get(RECORDS)
                assert (status, body) == (200, first)
                return 304 in reached_node(node, RECORDS)

            eventually(
                revalidated,
                lambda: f"node saw {reached_node(node, RECORDS)}",
                within_s=10,
                poll=0.5,
            )


@SLOW_SETUP
def test_nginx_caches_the_sites_pages_per_language(tmp_path: Path) -> None:
    """A page varies with Accept-Language: nginx keeps one copy per language, never
    answering a Spanish reader with the English page; static files are cached too."""
    data, _ = started_node(tmp_path)
    env = {"BANSCAN_READS_MAX_AGE_S": "30", "BANSCAN_LOG_FORMAT": "json"}
    with running_node(data, env) as node:
        upstream = int(node.url.rstrip("/").rsplit(":", 1)[1])
        proxy = tmp_path / "nginx"
        proxy.mkdir()
        with nginx_in_front(proxy, upstream) as site:
            pages: dict[str, bytes] = {}
            for _ in range(2):
                for language in ("en", "es"):
                    status, headers, body = site.get("/privacy", **{"Accept-Language": language})
                    assert status == 200
                    assert headers["Vary"] == "Accept-Language"
                    assert f'<html lang="{language}"' in body.decode()
                    pages.setdefault(language, body)
                    assert body == pages[language]
            # One request per language reached the node; the repeats came from nginx.
            reached_exactly(node, "/privacy", [200, 200])
