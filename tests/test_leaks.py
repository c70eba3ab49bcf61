"""Nothing about who reported leaves the node or can be read from its disk (issue 4).

Reports carrying unique canary strings (a contact address, a narrative
sentence, a name, a place, a phone number) are sent to a real node process,
from a canary user agent and a canary client address (the node is told to
trust ``X-Forwarded-For``, as behind its proxy). Then the raw SQLite files,
including the WAL, and everything the node logged (at debug level) are
scanned: no canary may appear. A moderator opens the report with their key,
publishes a redacted record, and the record is checked where it went: on a
peer node, in the API and in every export format.
"""

import asyncio
import http.cookiejar
import json
import re
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from protocol.errors import KeyFormatError
from protocol.keys import b64url_decode, b64url_encode
from protocol.sealing import ModeratorKey, SealingError
from storage.tokens import Role
from tests.conftest import node_store
from tests.factories import incident_body
from tests.polling import eventually
from tests.test_federation_nodes import Network, Node, network

__all__ = ["network"]  # the fixture, used by name

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TAG = uuid.uuid4().hex[:12]
CANARIES = {
    "contact": f"canary.{TAG}@example.org",
    "narrative": f"The canary sentence {TAG} was heard at the march.",
    "name": f"Canaryname {TAG}",
    "place": f"Canary Street {TAG}",
    "phone": f"+1 555 {int(TAG[:6], 16) % 10_000_000:07d}",
    "user agent": f"CanaryAgent/{TAG}",
    "client address": "198.51.100.77",
}
EXPORT_FORMATS = ("csv", "geojson", "ndjson", "bundle")


def canary_report() -> dict[str, Any]:
    return {
        "kind": "incident",
        "what_happened": CANARIES["narrative"],
        "occurred_on": "2026-10-03",
        "occurred_time": "14:30",
        "country": "US",
        "city": "New York",
        "place": CANARIES["place"],
        "lat": 40.7536,
        "lon": -73.9832,
        "technology": "live_frt",
        "category": "protest_surveillance",
        "names": CANARIES["name"],
        "email": CANARIES["contact"],
        "phone": CANARIES["phone"],
        "consent_contact": True,
        "consent_publish": True,
    }


def found_in(data: bytes) -> list[str]:
    """The canaries ``data`` holds, as UTF-8 or as JSON would escape them."""
    return [
        what
        for what, text in CANARIES.items()
        if text.encode() in data or json.dumps(text).encode()[1:-1] in data
    ]


def scan_dir(directory: Path) -> dict[str, list[str]]:
    """{file: canaries in it} for every file under ``directory`` holding any."""
    hits = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and (found := found_in(path.read_bytes())):
            hits[str(path.relative_to(directory))] = found
    return hits


def prepare(node: Node, key: ModeratorKey) -> str:
    """Add the moderator's public key to the node's store; a moderator token for it."""

    async def run() -> str:
        async with node_store(node.data_dir) as store:
            await store.submissions.add_key(
                key.public.key_id, key.public.text, "alice", actor="test"
            )
            return await store.tokens.create(Role.MODERATOR, "alice")

    return asyncio.run(run())


def post(url: str, payload: Any, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def post_form(url: str, fields: dict[str, str], headers: dict[str, str]) -> int:
    """Load the form (for its CSRF cookie and token) as a browser would, then post it."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(urllib.request.Request(url, headers=headers), timeout=30) as page:
        token = re.search(r'name="csrf" value="([^"]+)"', page.read().decode())
    assert token is not None
    data = urllib.parse.urlencode({**fields, "csrf": token.group(1)}).encode()
    try:
        with opener.open(urllib.request.Request(url, data, headers), timeout=30) as answer:
            status: int = answer.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def fetch(url: str, token: str | None = None) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        data: bytes = response.read()
        return data


def test_no_canary_reaches_the_disk_the_logs_a_peer_or_an_export(
    network: Network, tmp_path: Path
) -> None:
    chapter = network.steward("chapter")
    [peer] = network.members(chapter, "peer")
    network.admit(chapter, peer)
    chapter.add_peer(peer)
    peer.add_peer(chapter)
    for node in (chapter, peer):
        node.env |= {"BANSCAN_LOG_LEVEL": "debug", "BANSCAN_LOG_FORMAT": "json"}
    chapter.env["BANSCAN_SUBMISSIONS_TRUST_FORWARDED_FOR"] = "true"
    moderator = ModeratorKey.generate()
    moderator_file = tmp_path / "moderator.key"  # on the moderator's machine, not the node's
    moderator.save(moderator_file)
    token = prepare(chapter, moderator)
    network.start(chapter, peer)
    admissions = chapter.record_ids(kind="membership")
    eventually(lambda: peer.holds(*admissions), "the peer holds its admission")
    for node in (chapter, peer):
        eventually(node.settled, f"{node.name} has no peer in backoff")

    client = {"User-Agent": CANARIES["user agent"], "X-Forwarded-For": CANARIES["client address"]}
    receipts = []
    for _ in range(2):
        status, answer = post(f"{chapter.url}/api/v1/submissions", canary_report(), client)
        assert status == 201, answer
        receipts.append(answer["receipt"])
    status, answer = post(
        f"{chapter.url}/api/v1/submissions/status", {"receipt": receipts[0]}, client
    )
    assert (status, answer) == (200, {"status": "received"})
    # Through the form too: one sent, and one sent back with an error (its page holds
    # what was typed, so the reporter need not type it again; nothing else may).
    form = {
        k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in canary_report().items()
    }
    form["consent_contact"] = form["consent_publish"] = "yes"
    assert post_form(f"{chapter.url}/report", form, client) == 201
    assert post_form(f"{chapter.url}/report", {**form, "country": "XX"}, client) == 422

    # While the node runs, its WAL holds the latest writes: nothing there either.
    assert (chapter.data_dir / "banscan.db-wal").exists()
    assert scan_dir(chapter.data_dir) == {}

    # The moderator's key opens what the node holds; the canaries really went in.
    listing = json.loads(fetch(f"{chapter.url}/api/v1/submissions", token))
    assert not found_in(json.dumps(listing).encode())
    submission_id = listing["submissions"][0]["id"]
    view = json.loads(fetch(f"{chapter.url}/api/v1/submissions/{submission_id}", token))
    assert not found_in(json.dumps(view).encode())
    opened = ModeratorKey.load(moderator_file).open(
        b64url_decode(view["sealed"]), submission_id.encode()
    )
    assert set(found_in(opened)) == {"contact", "narrative", "name", "place", "phone"}

    # Published: a redacted record, written by the moderator.
    body = incident_body(summary="Live facial recognition was used at a march in Midtown.")
    status, published = post(
        f"{chapter.url}/api/v1/submissions/{submission_id}/publish",
        {"audience": "network", "body": body},
        {"Authorization": f"Bearer {token}"},
    )
    assert status == 201, published
    record_id = published["record_id"]
    eventually(lambda: peer.holds(record_id), "the published record reaches the peer")
    for node in (chapter, peer):
        assert not found_in(json.dumps(node.record(record_id)).encode())
        for export_format in EXPORT_FORMATS:
            exported = fetch(
                f"{node.url}/api/v1/export?format={export_format}&kind=incident", node.token
            )
            assert record_id in exported.decode("utf-8", "replace") or export_format == "bundle"
            assert not found_in(exported), (node.name, export_format)

    chapter.stop()
    peer.stop()
    for node in (chapter, peer):
        assert scan_dir(node.data_dir) == {}, node.name
        logged = "".join(node.logs).encode()
        assert logged, f"{node.name} logged nothing: the scan would prove nothing"
        assert not found_in(logged), node.name


def test_nothing_in_the_data_directory_opens_a_report(network: Network, tmp_path: Path) -> None:
    chapter = network.steward("chapter")
    moderator = ModeratorKey.generate()
    moderator.save(tmp_path / "moderator.key")
    token = prepare(chapter, moderator)
    network.start(chapter)
    status, _ = post(f"{chapter.url}/api/v1/submissions", canary_report(), {})
    assert status == 201
    listing = json.loads(fetch(f"{chapter.url}/api/v1/submissions", token))
    submission_id = listing["submissions"][0]["id"]
    view = json.loads(fetch(f"{chapter.url}/api/v1/submissions/{submission_id}", token))
    sealed = b64url_decode(view["sealed"])
    chapter.stop()

    key_file = json.loads(moderator.file_text())
    secrets = [b64url_decode(key_file["mlkem_seed"]), b64url_decode(key_file["x25519"])]
    for path in sorted(chapter.data_dir.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        # No part of the moderator's private key, in any encoding, is on the node.
        for secret in secrets:
            assert secret not in data, path
            assert b64url_encode(secret).encode() not in data, path
        # And no file there is a moderator key: not the node's own key, either.
        with pytest.raises(KeyFormatError):
            ModeratorKey.load(path)
    # Any other moderator key is refused too.
    with pytest.raises(SealingError):
        ModeratorKey.generate().open(sealed, submission_id.encode())
    # The one that opens it lives with the moderator.
    assert found_in(moderator.open(sealed, submission_id.encode()))
