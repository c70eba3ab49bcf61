"""Record pages on a real node: every public field in words, versions both ways, who signed
it, the signed bytes, a bundle that the real ``banscan verify`` accepts, tombstones, and
the same 404 for an unknown id and for a record outside the ``public`` audience."""

import html
import re
from pathlib import Path

from node.state import NODE_KEY, STORE
from protocol.keys import key_text
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.nodeproc import banscan
from tests.sitedata import ARCHIVED, CAMERA, CHAPTER, INCIDENT, SOURCE_HASH, publish

UNKNOWN = "0" * 64


async def page_text(client: NodeClient, url: str, status: int = 200, **kwargs: object) -> str:
    response = await client.get(url, **kwargs)  # type: ignore[arg-type]
    assert response.status == status, await response.text()
    assert response.content_type == "text/html"
    return html.unescape(await response.text())


async def test_a_deployment_page_shows_every_public_field(client: NodeClient) -> None:
    await publish(client.server, "node", CHAPTER)
    record_id = await publish(client.server, "deployment", CAMERA)
    response = await client.get(f"/deployments/{record_id}?lang=en")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "connect-src" not in response.headers["Content-Security-Policy"]
    text = html.unescape(await response.text())
    for shown in (
        "New York, United States",
        "40.7580000, -73.9855000",
        "Corroborated",
        "Confirmed",
        "a procurement record; what observers saw",
        "2025-06",
        "known to the month",
        "People who saw it</dt><dd>3",
        "City Police",
        "<code>surveillance:type</code></td><td>camera",
        "https://news.example.com/vans",
        ARCHIVED,
        SOURCE_HASH,
        "Ban the Scan Testville",
        "https://chapter.example.org",
        key_text(client.app[NODE_KEY].public_key),
        "This is the only version of this record.",
        f'href="/deployments/{record_id}/bundle"',
    ):
        assert shown in text, shown
    stored = await client.app[STORE].records.get(bytes.fromhex(record_id))
    assert stored is not None
    assert stored.body is not None
    for signed_bytes in (stored.envelope_bytes, stored.signature, stored.body):
        assert signed_bytes.hex() in text
    assert 'data-ed25519="/static/vendor/@noble/ed25519/index.js?v=' in text


async def test_an_incident_page_shows_every_public_field(client: NodeClient) -> None:
    record_id = await publish(client.server, "incident", INCIDENT)
    text = await page_text(client, f"/incidents/{record_id}?lang=en")
    for shown in (
        "<p>Officers stopped a woman after a live facial recognition van flagged her.</p>",
        "<p>She was released after an hour.</p>",
        "Kind of incident</dt><dd>Surveillance of a protest",
        "2025-03-14",
        "known to the day",
        "New York, NY, United States",
        "dr5ru7",
        "van-mounted cameras",
        'City Police <span class="hint">(CP-1)</span>',
        "Corroborated; confirmations: 2",
        "march",
        "https://news.example.com/stop",
    ):
        assert shown in text, shown
    spanish = await page_text(client, f"/incidents/{record_id}?lang=es")
    assert "Compruebe este registro" in spanish
    assert "fecha exacta" in spanish


async def test_versions_link_both_ways(client: NodeClient) -> None:
    first = await publish(client.server, "incident", INCIDENT)
    second = await publish(client.server, "incident", {**INCIDENT, "supersedes": first})
    third = await publish(client.server, "incident", {**INCIDENT, "supersedes": second})
    page = await page_text(client, f"/incidents/{first}?lang=en")
    assert "A newer version of this record exists" in page
    assert f'href="/incidents/{third}?lang=en">See the current version' in page
    assert f"/incidents/{second}?lang=en" in page
    middle = await page_text(client, f"/incidents/{second}?lang=en")
    assert f"/incidents/{first}?lang=en" in middle
    assert f"/incidents/{third}?lang=en" in middle
    assert "current version" in middle
    current = await page_text(client, f"/incidents/{third}?lang=en")
    assert "A newer version" not in current
    versions = current[current.index('<ol class="versions">') :]
    versions = versions[: versions.index("</ol>")]
    assert versions.index(first) < versions.index(second) < versions.index("this version")


async def test_a_retracted_record_shows_its_tombstone_and_reason_never_its_body(
    client: NodeClient,
) -> None:
    record_id = await publish(client.server, "incident", INCIDENT)
    await publish(
        client.server,
        "retraction",
        {"target": record_id, "reason": "safety", "note": "The person asked us to."},
    )
    text = await page_text(client, f"/incidents/{record_id}?lang=en")
    assert "This record was withdrawn" in text
    assert "It was withdrawn because <strong>for someone's safety</strong>" in text
    assert "The person asked us to." in text
    assert "Officers stopped" not in text
    assert "dr5ru7" not in text
    assert "City Police" not in text
    assert "No longer held" in text


async def test_an_erased_body_is_said_to_be_erased(client: NodeClient) -> None:
    record_id = await publish(client.server, "deployment", CAMERA)
    db = client.app[STORE].db
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE records SET erased_ms = 1 WHERE id = ?", (bytes.fromhex(record_id),)
        )
        await conn.execute(
            "DELETE FROM bodies WHERE rid = (SELECT rid FROM records WHERE id = ?)",
            (bytes.fromhex(record_id),),
        )
    text = await page_text(client, f"/deployments/{record_id}?lang=en")
    assert "The content of this record was erased" in text
    assert "City Police" not in text


async def test_unknown_and_non_public_records_are_the_same_404_whoever_asks(
    client: NodeClient,
) -> None:
    tokens = {role: await client.app[STORE].tokens.create(role, "t") for role in Role}
    hidden = await publish(client.server, "incident", INCIDENT, audience="network")
    secret = await publish(client.server, "incident", INCIDENT, audience="coordinators")
    public = await publish(client.server, "incident", INCIDENT)
    unknown_page = await page_text(client, f"/incidents/{UNKNOWN}?lang=en", 404)
    for record_id in (hidden, secret):
        for headers in (None, bearer(tokens[Role.ADMIN]), {"Cookie": "session=admin"}):
            for path in (f"/incidents/{record_id}", f"/incidents/{record_id}/bundle"):
                page = await page_text(client, f"{path}?lang=en", 404, headers=headers)
                assert page == unknown_page.replace(UNKNOWN, record_id)
                assert "Officers" not in page
    # A record of the other kind is not found under this kind's path either.
    await page_text(client, f"/deployments/{public}", 404)
    await page_text(client, f"/deployments/{public}/bundle", 404)


async def test_a_malformed_id_or_parameter_is_a_400_page(client: NodeClient) -> None:
    for path in ("/incidents/xyz", f"/incidents/{'A' * 64}", f"/deployments/{'0' * 63}"):
        text = await page_text(client, path + "?lang=en", 400)
        assert "a record id is 64 lowercase hexadecimal digits" in text
    text = await page_text(client, f"/incidents/{UNKNOWN}?colour=red", 400)
    assert "colour" in text


async def test_the_bundle_download_verifies_with_the_real_cli(
    client: NodeClient, tmp_path: Path
) -> None:
    camera = await publish(client.server, "deployment", CAMERA)
    withdrawn = await publish(client.server, "incident", INCIDENT)
    await publish(client.server, "retraction", {"target": withdrawn, "reason": "error"})
    for path, record_id in (
        (f"/deployments/{camera}", camera),
        (f"/incidents/{withdrawn}", withdrawn),
    ):
        response = await client.get(f"{path}/bundle")
        assert response.status == 200
        assert response.content_type == "application/vnd.banscan.bundle+msgpack"
        disposition = response.headers["Content-Disposition"]
        name = re.fullmatch(
            r'attachment; filename="(banscan-\w+-[0-9a-f]{16}\.bundle)"', disposition
        )
        assert name is not None
        assert record_id.startswith(name.group(1).split("-")[2][:16])
        bundle = tmp_path / name.group(1)
        bundle.write_bytes(await response.read())
        result = banscan("verify", str(bundle))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 records checked, 1 good, 0 bad (network banthescan)" in result.stdout
        # Cached answers keep the download's name.
        again = await client.get(f"{path}/bundle")
        assert again.headers["Content-Disposition"] == disposition


async def test_a_revalidated_record_page_keeps_its_script_policy(client: NodeClient) -> None:
    """A 304's headers replace the browser's stored ones: it must carry the page's policy,
    or a reload would run under the default one, which allows no script."""
    record_id = await publish(client.server, "deployment", CAMERA)
    first = await client.get(f"/deployments/{record_id}")
    again = await client.get(
        f"/deployments/{record_id}", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status == 304
    assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    assert "script-src 'self'" in again.headers["Content-Security-Policy"]
    listed = await client.get("/deployments")
    assert "script-src" not in listed.headers["Content-Security-Policy"]
