"""The key rotation runbook (docs/operators.md, Rotating a node key), end to end.

Real node processes on 127.0.0.1, driven only through the CLI and the HTTP
API, exactly as the runbook tells an operator to.
"""

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import incident_body
from tests.nodeproc import NodeProcess, banscan
from tests.polling import eventually
from tests.ports import free_port


def ok(*args: str) -> str:
    result = banscan(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def key_of(directory: Path) -> str:
    return str(json.loads(ok("status", "--data-dir", str(directory), "--json"))["key"])


def configure(directory: Path, port: int, peers: list[tuple[int, str]]) -> None:
    config = directory / "banscan.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("urls = []", f'urls = ["http://127.0.0.1:{port}"]')
    text = text.replace("sync_interval_s = 30", "sync_interval_s = 1")
    text = text.replace("max_backoff_s = 600", "max_backoff_s = 2")
    for peer_port, key in peers:
        text += f'\n[[peers]]\nurl = "http://127.0.0.1:{peer_port}"\nkey = "{key}"\n'
    config.write_text(text, encoding="utf-8")


def api(url: str, token: str, path: str, payload: Any = None) -> tuple[int, Any]:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(
        url + path,
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST" if data is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def holds(url: str, token: str, record_id: str) -> bool:
    status, _ = api(url, token, f"/api/v1/records/{record_id}")
    return status == 200


@pytest.fixture
def started() -> Iterator[list[NodeProcess]]:
    nodes: list[NodeProcess] = []
    yield nodes
    for node in nodes:
        node.close()


def test_rotating_a_chapter_key(tmp_path: Path, started: list[NodeProcess]) -> None:
    steward_dir, chapter_dir = tmp_path / "steward", tmp_path / "chapter"
    ok("init", "--data-dir", str(steward_dir))
    steward_key = key_of(steward_dir)
    ok("init", "--data-dir", str(chapter_dir), "--steward", steward_key)
    old_key = key_of(chapter_dir)
    steward_port, chapter_port = free_port(), free_port()
    configure(steward_dir, steward_port, [])
    configure(chapter_dir, chapter_port, [(steward_port, steward_key)])
    ok(
        "members",
        "admit",
        old_key,
        "--data-dir",
        str(steward_dir),
        "--role",
        "chapter",
        "--name",
        "Chapter",
    )
    steward_token = ok("token", "create", "--data-dir", str(steward_dir), "--role", "analyst")
    chapter_token = ok("token", "create", "--data-dir", str(chapter_dir), "--role", "publisher")
    steward_token, chapter_token = steward_token.strip(), chapter_token.strip()

    steward = NodeProcess(steward_dir, port=steward_port)
    started.append(steward)
    steward_url = steward.wait_serving()
    chapter = NodeProcess(chapter_dir, port=chapter_port)
    started.append(chapter)
    chapter_url = chapter.wait_serving()

    record = {"kind": "incident", "audience": "network", "body": incident_body()}
    status, before = api(chapter_url, chapter_token, "/api/v1/records", record)
    assert status == 201
    eventually(lambda: holds(steward_url, steward_token, before["id"]), what="first record")

    # 1. Stop the node and give it a new key; the old one is kept, mode 0600.
    chapter.stop()
    printed = ok("rotate-key", "--data-dir", str(chapter_dir))
    new_key = key_of(chapter_dir)
    assert new_key != old_key
    assert new_key in printed
    retired = list(chapter_dir.glob("node.key.retired-*"))
    assert len(retired) == 1
    assert retired[0].stat().st_mode & 0o777 == 0o600

    # 2. The steward admits the new key and suspends the old one, while it runs.
    ok(
        "members",
        "admit",
        new_key,
        "--data-dir",
        str(steward_dir),
        "--role",
        "chapter",
        "--name",
        "Chapter",
    )
    ok("members", "suspend", old_key, "--data-dir", str(steward_dir))

    # 3. The chapter starts again and publishes under its new key.
    chapter = NodeProcess(chapter_dir, port=chapter_port)
    started.append(chapter)
    chapter.wait_serving()
    status, after = api(chapter_url, chapter_token, "/api/v1/records", record)
    assert status == 201
    assert after["origin"] == new_key
    eventually(lambda: holds(steward_url, steward_token, after["id"]), what="record of new key")
    # The old key's records stay; the steward lists the new key as a member and
    # the old one as suspended.
    assert holds(steward_url, steward_token, before["id"])
    members = json.loads(ok("members", "list", "--data-dir", str(steward_dir), "--json"))
    text = json.dumps(members)
    assert new_key in text
    assert "suspend" in text

    # The steward syncs with the chapter under its new key.
    def synced_with_new_key() -> bool:
        status, body = api(steward_url, steward_token, "/api/v1/federation/peers")
        return status == 200 and any(
            p["key"] == new_key and p["last_success"] for p in body["peers"]
        )

    eventually(synced_with_new_key, what="steward syncing with the new key")
