"""Reports through the JSON API, and moderation: sealed at rest, checked, audited."""

import asyncio
import json
import re
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from node.abuse import RateLimited, RateLimiter, counted_as
from node.app import create_app
from node.datadir import DataDir
from node.moderation.service import Moderation, record_publisher
from node.moderation.submissions import ModerationConflict
from node.state import CONFIG, NODE_KEY, STORE
from protocol.keys import b64url_decode
from protocol.kinds import decode_body
from protocol.sealing import ModeratorKey
from storage.submissions import SubmissionStore
from storage.tokens import Role
from tests.conftest import ClientFactory, NodeClient, bearer
from tests.factories import deployment_body, incident_body

MODERATOR = ModeratorKey.generate()
RECEIPT = re.compile(r"^[A-Z2-9]{4}(-[A-Z2-9]{4}){4}$")


def report(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "kind": "incident",
        "what_happened": "Officers scanned every face at the march on Fifth Avenue.",
        "occurred_on": "2026-10-03",
        "occurred_time": "14:30",
        "country": "US",
        "city": "New York",
        "place": "Corner of Fifth Avenue and 42nd Street",
        "lat": 40.7536,
        "lon": -73.9832,
        "agency": "NYPD",
        "technology": "live_frt",
        "category": "protest_surveillance",
        "sources": ["https://example.org/video"],
        "names": "Jane Doe",
        "email": "reporter@example.org",
        "consent_contact": True,
        "consent_publish": True,
    }
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


async def add_moderator(store: SubmissionStore, key: ModeratorKey = MODERATOR) -> None:
    await store.add_key(key.public.key_id, key.public.text, "alice", actor="test")


@pytest.fixture
async def open_client(client: NodeClient) -> NodeClient:
    """A node that takes reports: it has a moderator key."""
    await add_moderator(client.app[STORE].submissions)
    return client


Submit = Callable[..., Awaitable[str]]


@pytest.fixture
def submit(open_client: NodeClient) -> Submit:
    async def submit_one(**overrides: Any) -> str:
        response = await open_client.post("/api/v1/submissions", json=report(**overrides))
        assert response.status == 201, await response.text()
        receipt: str = (await response.json())["receipt"]
        return receipt

    return submit_one


async def only_submission_id(client: NodeClient) -> str:
    page = await client.app[STORE].submissions.page()
    assert len(page) == 1
    return page[0][1].id


async def test_a_report_is_stored_sealed_and_answered_with_a_receipt(
    open_client: NodeClient,
) -> None:
    response = await open_client.post("/api/v1/submissions", json=report())

    assert response.status == 201
    assert response.headers["Cache-Control"] == "no-store"
    answer = await response.json()
    assert RECEIPT.match(answer["receipt"])
    assert answer["status"] == "received"
    [(_, stored)] = await open_client.app[STORE].submissions.page()
    assert stored.status == "pending"
    assert stored.triage == {
        "kind": "incident",
        "occurred_on": "2026-10-03",
        "country": "US",
        "city": "New York",
        "agency": "NYPD",
        "technology": "live_frt",
        "category": "protest_surveillance",
        "consent_contact": True,
        "consent_publish": True,
    }
    assert stored.sealed is not None
    assert b"Fifth Avenue" not in stored.sealed
    assert b"Jane Doe" not in stored.sealed
    private = json.loads(MODERATOR.open(stored.sealed, stored.id.encode()))
    assert private == {
        "what_happened": "Officers scanned every face at the march on Fifth Avenue.",
        "occurred_time": "14:30",
        "place": "Corner of Fifth Avenue and 42nd Street",
        "lat": 40.7536,
        "lon": -73.9832,
        "sources": ["https://example.org/video"],
        "names": "Jane Doe",
        "email": "reporter@example.org",
    }


async def test_a_deployment_sighting_is_taken_too(submit: Submit, open_client: NodeClient) -> None:
    await submit(kind="deployment", category=None, names=None, email=None)

    [(_, stored)] = await open_client.app[STORE].submissions.page()
    assert stored.kind == "deployment"
    assert "category" not in stored.triage


async def test_reports_are_sealed_to_every_moderator_key(open_client: NodeClient) -> None:
    bob = ModeratorKey.generate()
    await add_moderator(open_client.app[STORE].submissions, bob)

    await open_client.post("/api/v1/submissions", json=report())

    [(_, stored)] = await open_client.app[STORE].submissions.page()
    assert stored.sealed is not None
    assert sorted(stored.key_ids) == sorted([MODERATOR.public.key_id, bob.public.key_id])
    for key in (MODERATOR, bob):
        assert b"Jane Doe" in key.open(stored.sealed, stored.id.encode())


async def test_without_moderator_keys_reports_are_refused_not_kept(client: NodeClient) -> None:
    response = await client.post("/api/v1/submissions", json=report())

    assert response.status == 503
    problem = await response.json()
    assert problem["type"] == "urn:banscan:problem:submissions-closed"
    assert "moderator" in problem["detail"]
    assert await client.app[STORE].submissions.page() == []


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"kind": "rumour"}, "kind"),
        ({"what_happened": "   "}, "what_happened"),
        ({"occurred_on": "3 October"}, "occurred_on"),
        ({"occurred_on": "2999-01-01"}, "future"),
        ({"occurred_time": "25:00"}, "occurred_time"),
        ({"country": "XX"}, "country"),
        ({"lat": 91.0}, "lat"),
        ({"lon": None}, "both lat and lon"),
        ({"sources": ["javascript:alert(1)"]}, "sources"),
        ({"email": "not an address"}, "email"),
        ({"phone": "call me maybe"}, "phone"),
        ({"technology": "telepathy"}, "technology"),
        ({"kind": "deployment"}, "category is for incidents"),
        ({"secret_field": 1}, "secret_field"),
        ({"consent_publish": "perhaps"}, "consent_publish"),
    ],
)
async def test_bad_reports_are_refused_naming_the_field_without_echoing_it(
    open_client: NodeClient, overrides: dict[str, Any], named: str
) -> None:
    response = await open_client.post("/api/v1/submissions", json=report(**overrides))

    assert response.status == 422
    problem = await response.json()
    assert problem["type"] == "urn:banscan:problem:invalid-submission"
    assert named in problem["detail"]
    for field, value in overrides.items():
        if field != "kind" and isinstance(value, str) and len(value) > 3:
            assert value not in problem["detail"]
    assert await open_client.app[STORE].submissions.page() == []


async def test_malformed_and_oversized_bodies_are_refused(open_client: NodeClient) -> None:
    not_json = await open_client.post(
        "/api/v1/submissions", data=b"{", headers={"Content-Type": "application/json"}
    )
    not_object = await open_client.post("/api/v1/submissions", json=[report()])
    wrong_type = await open_client.post("/api/v1/submissions", data=b"kind=incident")
    huge = await open_client.post("/api/v1/submissions", json=report(what_happened="x" * 70_000))

    async def chunks() -> Any:
        for _ in range(20):
            yield b" " * 8192

    streamed = await open_client.post(
        "/api/v1/submissions", data=chunks(), headers={"Content-Type": "application/json"}
    )

    assert (not_json.status, not_object.status, wrong_type.status) == (400, 400, 415)
    assert huge.status == 413
    assert "65536" in (await huge.json())["detail"]
    assert streamed.status == 413
    assert await open_client.app[STORE].submissions.page() == []


async def limited_client(
    aiohttp_client: ClientFactory, data_dir: DataDir, **settings: Any
) -> NodeClient:
    config = data_dir.load_config()
    submissions = config.submissions.model_copy(update=settings)
    app = create_app(
        config.model_copy(update={"submissions": submissions}),
        data_dir.load_key(),
        data_dir.database,
    )
    client = await aiohttp_client(app)
    await add_moderator(client.app[STORE].submissions)
    return client


async def test_the_rate_limit_holds_per_client_and_says_when_to_retry(
    aiohttp_client: ClientFactory, data_dir: DataDir
) -> None:
    client = await limited_client(aiohttp_client, data_dir, per_client_per_hour=2)

    statuses = [(await client.post("/api/v1/submissions", json=report())).status for _ in range(2)]
    refused = await client.post("/api/v1/submissions", json=report())
    # Receipt checks have a budget of their own: guessing at receipts cannot close
    # reporting, nor the other way round.
    checks = [
        (await client.post("/api/v1/submissions/status", json={"receipt": "x"})).status
        for _ in range(3)
    ]

    assert statuses == [201, 201]
    assert refused.status == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert (await refused.json())["type"] == "urn:banscan:problem:too-many-requests"
    assert checks == [400, 400, 429]
    assert len(await client.app[STORE].submissions.page()) == 2


async def test_behind_a_proxy_clients_are_told_apart_by_x_forwarded_for(
    aiohttp_client: ClientFactory, data_dir: DataDir
) -> None:
    client = await limited_client(
        aiohttp_client, data_dir, per_client_per_hour=1, trust_forwarded_for=True
    )

    def via(address: str) -> dict[str, str]:
        # The proxy appends the address it saw last; anything before it is the client's say.
        return {"X-Forwarded-For": f"203.0.113.9, {address}"}

    first = await client.post("/api/v1/submissions", json=report(), headers=via("198.51.100.1"))
    again = await client.post("/api/v1/submissions", json=report(), headers=via("198.51.100.1"))
    other = await client.post("/api/v1/submissions", json=report(), headers=via("198.51.100.2"))

    assert (first.status, again.status, other.status) == (201, 429, 201)


async def test_the_limit_for_all_clients_together_holds(
    aiohttp_client: ClientFactory, data_dir: DataDir
) -> None:
    client = await limited_client(aiohttp_client, data_dir, per_hour=2, trust_forwarded_for=True)

    statuses = [
        (
            await client.post(
                "/api/v1/submissions",
                json=report(),
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
        ).status
        for n in range(3)
    ]

    assert statuses == [201, 201, 429]


def test_the_limiter_keeps_keyed_hashes_that_change_every_day() -> None:
    now = [1_000_000_000]
    limiter = RateLimiter(per_client=2, total=100, clock=lambda: now[0])

    today = limiter.client_key("198.51.100.7")
    limiter.check("198.51.100.7")
    limiter.check("198.51.100.7")
    with pytest.raises(RateLimited) as refused:
        limiter.check("198.51.100.7")
    assert 0 < refused.value.retry_after_s <= 3600
    assert b"198.51.100.7" not in today
    assert len(today) == 16

    now[0] += 3_601_000  # the window slides
    limiter.check("198.51.100.7")

    now[0] += 86_400_000  # a new day: a new secret, and every counter starts over
    assert limiter.client_key("198.51.100.7") != today
    limiter.check("198.51.100.7")
    limiter.check("198.51.100.7")
    assert limiter.clients == 1


def test_an_ipv6_client_counts_by_its_64_and_an_ipv4_mapped_one_as_ipv4() -> None:
    assert (
        counted_as("2001:db8:1:1::1") == counted_as("2001:db8:1:1:ffff::9") == ("2001:db8:1:1::/64")
    )
    assert counted_as("2001:db8:1:2::1") != counted_as("2001:db8:1:1::1")
    assert counted_as("::ffff:198.51.100.7") == "198.51.100.7"
    assert counted_as("198.51.100.7") == "198.51.100.7"
    assert counted_as("not an address") == "not an address"


def test_the_limiter_keeps_minutes_and_forgets_the_past_hour_and_day_by_itself() -> None:
    now = [1_000_000_000 + 37_250]  # not on a minute
    limiter = RateLimiter(per_client=5, total=100, clock=lambda: now[0])
    limiter.check("198.51.100.7")
    assert limiter._clients[limiter.client_key("198.51.100.7")][0] == 1_000_020_000

    now[0] += 3_601_000
    limiter.sweep()  # no request came: the sweep forgets anyway
    assert limiter.clients == 0
    secret = limiter._secret
    now[0] += 86_400_000
    limiter.sweep()
    assert limiter._secret != secret


def test_the_limiter_forgets_idle_clients() -> None:
    now = [0]
    limiter = RateLimiter(per_client=5, total=3, clock=lambda: now[0])
    for n in range(3):
        limiter.check(f"client {n}")
    now[0] += 3_601_000
    for n in range(3, 10):
        now[0] += 1_201_000  # keeps the total under its limit
        limiter.check(f"client {n}")

    assert limiter.clients <= 2 * 3 + 1


async def test_a_receipt_tells_its_status_and_nothing_else(
    submit: Submit, open_client: NodeClient, tokens: dict[Role, str]
) -> None:
    receipt = await submit()

    async def status_of(code: str) -> tuple[int, dict[str, Any]]:
        response = await open_client.post("/api/v1/submissions/status", json={"receipt": code})
        return response.status, await response.json()

    assert await status_of(receipt) == (200, {"status": "received"})
    assert await status_of(receipt.lower().replace("-", " ")) == (200, {"status": "received"})
    submission_id = await only_submission_id(open_client)
    await open_client.post(
        "/api/v1/submissions/reject",
        json={"ids": [submission_id], "reason": "spam"},
        headers=bearer(tokens[Role.MODERATOR]),
    )
    assert await status_of(receipt) == (200, {"status": "not_published"})
    unknown_status, unknown = await status_of("AAAA-BBBB-CCCC-DDDD-EEEE")
    assert unknown_status == 404
    assert unknown["detail"] == "no report has this receipt code"
    malformed_status, _ = await status_of("12")
    assert malformed_status == 400
    extra = await open_client.post("/api/v1/submissions/status", json={"receipt": receipt, "id": 1})
    assert extra.status == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/submissions"),
        ("GET", "/api/v1/submissions/sub_aaaaaaaaaaaaaaaa"),
        ("POST", "/api/v1/submissions/sub_aaaaaaaaaaaaaaaa/publish"),
        ("POST", "/api/v1/submissions/sub_aaaaaaaaaaaaaaaa/retract"),
        ("POST", "/api/v1/submissions/reject"),
        ("POST", "/api/v1/submissions/purge"),
        ("GET", "/api/v1/moderators"),
        ("GET", "/api/v1/audit"),
    ],
)
async def test_moderation_needs_a_moderator_or_admin_token(
    client: NodeClient, tokens: dict[Role, str], method: str, path: str
) -> None:
    anonymous = await client.request(method, path, json={})
    publisher = await client.request(method, path, json={}, headers=bearer(tokens[Role.PUBLISHER]))
    analyst = await client.request(method, path, json={}, headers=bearer(tokens[Role.ANALYST]))

    assert (anonymous.status, publisher.status, analyst.status) == (401, 403, 403)
    for role in (Role.MODERATOR, Role.ADMIN):
        allowed = await client.request(method, path, json={}, headers=bearer(tokens[role]))
        assert allowed.status not in (401, 403)


async def test_moderators_list_and_see_only_ciphertext(
    submit: Submit, open_client: NodeClient, tokens: dict[Role, str]
) -> None:
    for _ in range(3):
        await submit()
    auth = bearer(tokens[Role.MODERATOR])

    first = await (
        await open_client.get("/api/v1/submissions?limit=2&status=pending", headers=auth)
    ).json()
    second = await (
        await open_client.get(
            f"/api/v1/submissions?limit=2&cursor={first['next_cursor']}", headers=auth
        )
    ).json()

    ids = [s["id"] for s in first["submissions"] + second["submissions"]]
    assert len(set(ids)) == 3
    assert second["next_cursor"] is None
    assert first["counts"]["pending"] == 3
    assert all("sealed" not in s for s in first["submissions"])
    one = await (await open_client.get(f"/api/v1/submissions/{ids[0]}", headers=auth)).json()
    sealed = b64url_decode(one["sealed"])
    assert "Jane Doe" not in json.dumps(one)
    assert b"Jane Doe" in MODERATOR.open(sealed, ids[0].encode())
    bad = await open_client.get("/api/v1/submissions?status=lost", headers=auth)
    missing = await open_client.get("/api/v1/submissions/sub_aaaaaaaaaaaaaaaa", headers=auth)
    assert (bad.status, missing.status) == (400, 404)


async def publish(
    client: NodeClient,
    token: str,
    submission_id: str,
    body: dict[str, Any],
    audience: str = "public",
) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        f"/api/v1/submissions/{submission_id}/publish",
        json={"audience": audience, "body": body},
        headers=bearer(token),
    )
    return response.status, await response.json()


async def test_publishing_signs_a_redacted_record_and_corrections_supersede_it(
    submit: Submit, open_client: NodeClient, tokens: dict[Role, str]
) -> None:
    await submit()
    submission_id = await only_submission_id(open_client)
    token = tokens[Role.MODERATOR]
    body = incident_body(summary="Facial recognition was used at a march.", area="dr5ru6")

    status, published = await publish(open_client, token, submission_id, body)

    assert status == 201
    record = await open_client.app[STORE].records.get(bytes.fromhex(published["record_id"]))
    assert record is not None
    assert record.envelope.audience == "public"
    assert record.body is not None
    content = decode_body("incident", record.body)
    assert content.model_dump()["area"] == "dr5ru6"
    stored = await open_client.app[STORE].submissions.get(submission_id)
    assert stored is not None
    assert stored.status == "published"

    status, corrected = await publish(
        open_client, token, submission_id, {**body, "summary": "Corrected summary."}
    )
    assert status == 201
    newer = await open_client.app[STORE].records.get(bytes.fromhex(corrected["record_id"]))
    assert newer is not None
    assert newer.body is not None
    assert (
        decode_body("incident", newer.body).model_dump()["supersedes"] == (published["record_id"])
    )
    status, problem = await publish(
        open_client, token, submission_id, {**body, "supersedes": "00" * 32}
    )
    assert status == 409
    assert "supersede its latest record" in problem["detail"]


async def test_publishing_is_refused_without_consent_or_with_a_bad_body(
    submit: Submit, open_client: NodeClient, tokens: dict[Role, str]
) -> None:
    await submit(consent_publish=False)
    await submit()
    page = await open_client.app[STORE].submissions.page()
    no_consent, consented = page[0][1].id, page[1][1].id
    token = tokens[Role.MODERATOR]

    refused = await publish(open_client, token, no_consent, incident_body())
    too_fine = await publish(open_client, token, consented, incident_body(area="dr5ru6k"))
    wrong_kind = await publish(open_client, token, consented, deployment_body())
    exact_point = await publish(open_client, token, consented, incident_body(lat_e7=407_536_000))
    first_with_supersedes = await publish(
        open_client, token, consented, incident_body(supersedes="00" * 32)
    )
    bad_audience = await publish(open_client, token, consented, incident_body(), "everyone")

    assert refused[0] == 409
    assert "did not consent" in refused[1]["detail"]
    assert too_fine[0] == 422
    assert "area" in too_fine[1]["detail"]
    assert wrong_kind[0] == 422
    assert exact_point[0] == 422
    assert "exact point" in exact_point[1]["detail"]
    assert first_with_supersedes[0] == 422
    assert bad_audience[0] == 400
    assert await open_client.app[STORE].records.counts() == []


async def test_bulk_reject_rejects_pending_and_says_why_it_skipped_the_rest(
    submit: Submit, open_client: NodeClient, tokens: dict[Role, str]
) -> None:
    for _ in range(3):
        await submit()
    ids = [s.id for _, s in await open_client.app[STORE].submissions.page()]
    auth = bearer(tokens[Role.MODERATOR])
    await publish(open_client, tokens[Role.MODERATOR], ids[0], incident_body())

    response = await open_client.post(
        "/api/v1/submissions/reject",
        json={"ids": [*ids, "sub_aaaaaaaaaaaaaaaa"], "reason": "duplicate"},
        headers=auth,
    )
    bad_reason = await open_client.post(
        "/api/v1/submissions/reject", json={"ids": ids, "reason": "dislike"}, headers=auth
    )

    assert response.status == 200
    assert await response.json() == {
        "rejected": ids[1:],
        "skipped": {ids[0]: "published", "sub_aaaaaaaaaaaaaaaa": "not found"},
    }
    assert bad_reason.status == 422
    assert (await open_client.app[STORE].submissions.counts())["rejected"] == 2


async def test_retracting_erases_every_version_published_from_a_report(
    submit: Submit, open_client: NodeClient, tokens: dict[Role, str]
) -> None:
    await submit()
    submission_id = await only_submission_id(open_client)
    token = tokens[Role.MODERATOR]
    _, first = await publish(open_client, token, submission_id, incident_body(), "network")
    _, second = await publish(
        open_client, token, submission_id, incident_body(summary="Corrected."), "public"
    )
    narrower = await publish(open_client, token, submission_id, incident_body(), "network")

    response = await open_client.post(
        f"{submissions_route(submission_id)}/retract",
        json={"reason": "safety"},
        headers=bearer(token),
    )
    again = await open_client.post(
        f"{submissions_route(submission_id)}/retract",
        json={"reason": "safety"},
        headers=bearer(token),
    )

    # A correction may widen the audience (network to public), never narrow it.
    assert narrower[0] == 409
    assert (
        "cannot narrow the audience: the record it corrects went to public"
        in (narrower[1]["detail"])
    )
    assert f"retract {submission_id} instead" in narrower[1]["detail"]
    assert response.status == 201
    records = open_client.app[STORE].records
    retractions = [
        await records.get(bytes.fromhex(record_id))
        for record_id in (await response.json())["record_ids"]
    ]
    # Each retraction goes where its record went, newest first.
    assert [r.envelope.audience for r in retractions if r is not None] == ["public", "network"]
    for published in (first, second):
        target = await records.get(bytes.fromhex(published["record_id"]))
        assert target is not None
        assert target.body is None
    assert again.status == 409
    stored = await open_client.app[STORE].submissions.get(submission_id)
    assert stored is not None
    assert stored.status == "retracted"


def submissions_route(submission_id: str) -> str:
    return f"/api/v1/submissions/{submission_id}"


async def test_purge_deletes_private_parts_past_retention_and_keeps_the_rest(
    aiohttp_client: ClientFactory, data_dir: DataDir
) -> None:
    now = [1_790_000_000_000]
    app = create_app(
        data_dir.load_config(), data_dir.load_key(), data_dir.database, clock=lambda: now[0]
    )
    client = await aiohttp_client(app)
    store = client.app[STORE]
    await add_moderator(store.submissions)
    token = await store.tokens.create(Role.MODERATOR, "mod")
    for _ in range(3):
        assert (await client.post("/api/v1/submissions", json=report())).status == 201
    ids = [s.id for _, s in await store.submissions.page()]
    await client.post(
        "/api/v1/submissions/reject", json={"ids": ids[:1], "reason": "spam"}, headers=bearer(token)
    )
    now[0] += 10 * 86_400_000
    await client.post(
        "/api/v1/submissions/reject",
        json={"ids": ids[1:2], "reason": "spam"},
        headers=bearer(token),
    )
    now[0] += 1

    purged = await client.post(
        "/api/v1/submissions/purge", json={"retention_days": 5}, headers=bearer(token)
    )

    assert await purged.json() == {"purged": ids[:1]}
    states = {s.id: s for _, s in await store.submissions.page()}
    assert states[ids[0]].sealed is None
    assert states[ids[0]].purged_ms == now[0]
    assert states[ids[1]].sealed is not None  # decided, but within retention
    assert states[ids[2]].sealed is not None  # still pending: never purged
    again = await client.post("/api/v1/submissions/purge", json={}, headers=bearer(token))
    assert await again.json() == {"purged": []}  # the default is 90 days
    bad = await client.post(
        "/api/v1/submissions/purge", json={"retention_days": -1}, headers=bearer(token)
    )
    assert bad.status == 400


async def test_every_moderation_action_is_in_the_hash_chained_audit_log(
    submit: Submit, open_client: NodeClient, tokens: dict[Role, str]
) -> None:
    await submit()
    await submit()
    ids = [s.id for _, s in await open_client.app[STORE].submissions.page()]
    token = tokens[Role.MODERATOR]
    await open_client.get(f"/api/v1/submissions/{ids[0]}", headers=bearer(token))
    await publish(open_client, token, ids[0], incident_body())
    await open_client.post(
        "/api/v1/submissions/reject", json={"ids": ids[1:], "reason": "spam"}, headers=bearer(token)
    )

    log = await (await open_client.get("/api/v1/audit", headers=bearer(token))).json()

    assert log["intact"] is True
    actions = [(e["action"], e["actor"], e["submission"]) for e in log["entries"]]
    assert actions == [
        ("add-key", "test", None),
        ("view", "token:test moderator", ids[0]),
        ("publish", "token:test moderator", ids[0]),
        ("reject", "token:test moderator", ids[1]),
    ]
    assert "Jane Doe" not in json.dumps(log)
    assert "Fifth Avenue" not in json.dumps(log)


async def test_the_audit_log_refuses_edits_and_shows_tampering(
    submit: Submit, open_client: NodeClient, tokens: dict[Role, str]
) -> None:
    await submit()
    submission_id = await only_submission_id(open_client)
    await open_client.post(
        "/api/v1/submissions/reject",
        json={"ids": [submission_id], "reason": "spam"},
        headers=bearer(tokens[Role.MODERATOR]),
    )
    store = open_client.app[STORE]

    for statement in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            async with store.db.transaction() as conn:
                await conn.execute(statement)
    assert await store.submissions.verify_audit_log() is None

    # Someone with the file drops the guard and rewrites an entry: the chain shows it.
    async with store.db.transaction() as conn:
        await conn.execute("DROP TRIGGER audit_log_no_update")
        await conn.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2")
    assert await store.submissions.verify_audit_log() == 2


async def test_metrics_count_submissions_waiting_for_review(
    submit: Submit, open_client: NodeClient
) -> None:
    await submit()
    await submit()

    text = await (await open_client.get("/metrics")).text()

    assert 'banscan_submissions{status="pending"} 2.0' in text
    assert 'banscan_submissions{status="published"} 0.0' in text


async def test_moderator_keys_are_listed_for_moderators(
    open_client: NodeClient, tokens: dict[Role, str]
) -> None:
    response = await open_client.get("/api/v1/moderators", headers=bearer(tokens[Role.ADMIN]))

    assert await response.json() == {
        "moderators": [
            {
                "key_id": MODERATOR.public.key_id,
                "label": "alice",
                "added_ms": (await open_client.app[STORE].submissions.keys())[0].added_ms,
                "public": MODERATOR.public.text,
            }
        ],
        # [moderation] incident_audience left at its default.
        "default_audience": {"deployment": "public", "incident": "network"},
    }


async def test_a_purge_a_reader_blocks_is_finished_once_the_reader_is_gone(
    submit: Submit, open_client: NodeClient, tokens: dict[Role, str]
) -> None:
    await submit()
    submission_id = await only_submission_id(open_client)
    store = open_client.app[STORE]
    stored = await store.submissions.get(submission_id)
    assert stored is not None
    assert stored.sealed is not None
    await open_client.post(
        "/api/v1/submissions/reject",
        json={"ids": [submission_id], "reason": "spam"},
        headers=bearer(tokens[Role.MODERATOR]),
    )
    wal = store.db.path.with_name(store.db.path.name + "-wal")
    # A reader (a backup, a CLI in another process) holds a snapshot: no checkpoint.
    reader = sqlite3.connect(store.db.path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM submissions").fetchone()
        purged = await store.submissions.purge(store.clock() + 1, actor="test")
        assert purged == [submission_id]
        assert store.submissions.wal_owed
    finally:
        reader.close()

    assert await store.submissions.settle_wal()
    assert not store.submissions.wal_owed
    assert wal.stat().st_size == 0  # truncated: no frame of the sealed box is left
    assert stored.sealed[100:164] not in store.db.path.read_bytes()


async def test_a_rejection_racing_a_publication_leaves_no_record_out(
    submit: Submit, open_client: NodeClient, tokens: dict[Role, str]
) -> None:
    for _ in range(6):
        await submit()
    ids = [s.id for _, s in await open_client.app[STORE].submissions.page()]
    token = tokens[Role.MODERATOR]

    async def reject(submission_id: str) -> int:
        response = await open_client.post(
            "/api/v1/submissions/reject",
            json={"ids": [submission_id], "reason": "unsafe"},
            headers=bearer(token),
        )
        return response.status

    for submission_id in ids:
        await asyncio.gather(
            publish(open_client, token, submission_id, incident_body()), reject(submission_id)
        )

    store = open_client.app[STORE]
    states = {s.id: s for _, s in await store.submissions.page()}
    published = [s for s in states.values() if s.status == "published"]
    held = [r for r in await store.records.counts() if r[0] == "incident"]
    assert sum(count for _, _, count in held) == len(published)


async def test_a_publication_another_process_overtook_is_retracted_at_once(
    submit: Submit, open_client: NodeClient
) -> None:
    await submit()
    submission_id = await only_submission_id(open_client)
    app = open_client.app
    store = app[STORE]
    publish_record = record_publisher(
        store.records,
        app[NODE_KEY],
        network_id=app[CONFIG].network.id,
        limits=app[CONFIG].limits.limits(),
        clock=store.clock,
    )

    async def overtaken(kind: str, audience: str, body: dict[str, Any]) -> Any:
        record = await publish_record(kind, audience, body)
        if kind == "incident":  # meanwhile, a CLI on the same database rejects it
            await store.submissions.decide(
                submission_id,
                "rejected",
                expected=("pending",),
                actor="cli:other",
                action="reject",
                detail={"reason": "unsafe"},
                reason="unsafe",
            )
        return record

    moderation = Moderation(store.submissions, store.records, overtaken)
    with pytest.raises(ModerationConflict, match="retracted at once"):
        await moderation.publish(submission_id, "network", incident_body(), actor="test")

    entries = await store.submissions.audit_log()
    undone = next(e for e in entries if e.action == "publish-undone")
    record = await store.records.get(bytes.fromhex(undone.detail["record"]))
    assert record is not None
    assert record.body is None  # retracted: erased everywhere it went
