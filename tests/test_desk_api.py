"""The node's side of the moderators' desk (docs/api.md, "The moderators' desk"): claims
and their expiry, the queue's filters and facets, sealed notes, questions to the reporter
and their sealed answers, duplicates and their candidates, history and the chain check.

A real node app over a real SQLite file; its clock is injected, never slept on.
"""

import json
import sqlite3

import pytest
from structlog.testing import capture_logs

from node.datadir import DataDir
from node.state import STORE
from protocol.geohash import encode
from protocol.keys import b64url_decode, b64url_encode
from protocol.sealing import ModeratorKey, box_key_ids, seal
from tests.conftest import ClientFactory
from tests.deskapp import Desk, desk_node, sub
from tests.factories import deployment_body, incident_body
from tests.test_report_form import form_token
from tests.test_submissions_api import MODERATOR

CANARY = "CANARY-7f3a-do-not-store"


@pytest.fixture
async def desk(aiohttp_client: ClientFactory, data_dir: DataDir) -> Desk:
    return await desk_node(aiohttp_client, data_dir)


async def test_claims_show_who_holds_them_refuse_others_expire_and_can_be_taken_over(
    desk: Desk,
) -> None:
    first, _ = await desk.submit()
    second, _ = await desk.submit()
    start = desk.clock.now

    status, claimed = await desk.post(sub(first, "claim"), {})
    assert status == 200
    assert claimed == {
        "claim": {"holder": "token:alice", "since_ms": start, "expires_ms": start + 30 * 60_000},
        "taken_from": None,
    }
    # Another moderator sees the claim, in the list and in the single view.
    status, page = await desk.get("/api/v1/submissions", desk.bob)
    claims = {s["id"]: s["claim"] for s in page["submissions"]}
    assert claims == {first: claimed["claim"], second: None}
    assert (await desk.get(sub(first), desk.bob))[1]["claim"] == claimed["claim"]

    # ... is refused, told who holds it and since when ...
    status, problem = await desk.post(sub(first, "claim"), {}, desk.bob)
    assert status == 409
    assert problem["type"] == "urn:banscan:problem:claim-held"
    assert (problem["holder"], problem["since_ms"]) == ("token:alice", start)
    assert "token:alice" in problem["detail"]
    # ... and cannot decide on it meanwhile.
    publish = {"audience": "public", "body": incident_body()}
    assert (await desk.post(sub(first, "publish"), publish, desk.bob))[0] == 409
    assert (await desk.post(sub(first, "ask"), {"question": "When?"}, desk.bob))[0] == 409
    assert (await desk.post(sub(first, "release"), {}, desk.bob))[0] == 409
    status, rejected = await desk.post(
        "/api/v1/submissions/reject", {"ids": [first, second], "reason": "spam"}, desk.bob
    )
    assert rejected == {"rejected": [second], "skipped": {first: "claimed by token:alice"}}

    # A renewal keeps since_ms and moves the expiry.
    desk.clock.now = start + 10 * 60_000
    status, renewed = await desk.post(sub(first, "claim"), {})
    assert renewed["claim"] == {
        "holder": "token:alice",
        "since_ms": start,
        "expires_ms": desk.clock.now + 30 * 60_000,
    }

    # Past its expiry the claim lapses: no one holds it, and anyone may claim it.
    desk.clock.now = renewed["claim"]["expires_ms"]
    status, page = await desk.get("/api/v1/submissions?status=pending", desk.bob)
    assert page["submissions"][0]["claim"] is None
    status, bobs = await desk.post(sub(first, "claim"), {}, desk.bob)
    assert (status, bobs["taken_from"]) == (200, None)

    # An explicit take-over, logged as such.
    status, taken = await desk.post(sub(first, "claim"), {"take_over": True})
    assert (status, taken["claim"]["holder"], taken["taken_from"]) == (
        200,
        "token:alice",
        "token:bob",
    )
    assert (await desk.post(sub(first, "release"), {}))[1] == {"released": True}
    assert (await desk.post(sub(first, "release"), {}))[1] == {"released": False}

    actions = [
        (e["action"], e["actor"], e["detail"])
        for e in (await desk.get("/api/v1/audit"))[1]["entries"]
        if e["submission"] == first and e["action"] != "view"
    ]
    assert actions == [
        ("claim", "token:alice", {"expires_ms": start + 30 * 60_000}),
        (
            "claim",
            "token:alice",
            {"expires_ms": start + 40 * 60_000, "renewed": True},
        ),
        ("claim", "token:bob", {"expires_ms": desk.clock.now + 30 * 60_000}),
        (
            "take-over",
            "token:alice",
            {"expires_ms": desk.clock.now + 30 * 60_000, "from": "token:bob"},
        ),
        ("release", "token:alice", {}),
    ]


async def test_the_desk_routes_check_tokens_ids_and_bodies(desk: Desk) -> None:
    first, _ = await desk.submit()
    nobody = "sub_aaaaaaaaaaaaaaaa"
    for path, payload in (
        (sub(first, "claim"), {}),
        (sub(first, "release"), {}),
        (sub(first, "notes"), {"sealed": "x", "key_ids": ["y"]}),
        (sub(first, "ask"), {"question": "?"}),
        ("/api/v1/submissions/duplicate", {"ids": [first], "of": first}),
    ):
        assert (await desk.post(path, payload, {}))[0] == 401, path
        assert (await desk.post(path, payload, desk.publisher))[0] == 403, path
    for path in (sub(first, "candidates"), sub(first, "history")):
        assert (await desk.get(path, {}))[0] == 401
        assert (await desk.get(path, desk.publisher))[0] == 403
        assert (await desk.get(path.replace(first, nobody)))[0] == 404
    assert (await desk.post(sub(nobody, "claim"), {}))[0] == 404

    status, problem = await desk.post(sub(first, "claim"), {"take_over": "yes"})
    assert (status, "take_over" in problem["detail"]) == (400, True)
    status, problem = await desk.post(sub(first, "claim"), {"mine": True})
    assert (status, "mine" in problem["detail"]) == (400, True)
    status, problem = await desk.post(sub(first, "ask"), {"question": ""})
    assert (status, "question" in problem["detail"]) == (400, True)
    status, problem = await desk.get(sub(first, "candidates") + "?days=400")
    assert (status, problem["parameter"]) == (400, "days")
    status, problem = await desk.get("/api/v1/submissions?received_from=2026-13-01")
    assert (status, problem["parameter"]) == (400, "received_from")
    status, problem = await desk.get("/api/v1/submissions?sort=random")
    assert (status, problem["parameter"]) == (400, "sort")


async def test_the_queue_filters_sorts_and_counts_facets_in_sql(desk: Desk) -> None:
    london, _ = await desk.submit(country="GB", city="London", category="stop_and_search")
    leeds, _ = await desk.submit(country="GB", city="Leeds", technology="retrospective_frt")
    paris, _ = await desk.submit(country="FR", city="Paris")
    camera, _ = await desk.submit(kind="deployment", category=None, country="GB", city="Leeds")
    await desk.post("/api/v1/submissions/reject", {"ids": [paris], "reason": "spam"})

    status, page = await desk.get("/api/v1/submissions?status=pending&country=GB&sort=newest")
    assert status == 200
    assert [s["id"] for s in page["submissions"]] == [camera, leeds, london]
    assert page["counts"] == {
        "pending": 3,
        "needs_info": 0,
        "published": 0,
        "rejected": 1,
        "duplicate": 0,
        "retracted": 0,
    }
    facets = page["facets"]
    assert facets["country"] == {"GB": 3}
    assert facets["city"] == {"Leeds": 2, "London": 1}
    assert facets["kind"] == {"incident": 2, "deployment": 1}
    assert facets["category"] == {"": 1, "protest_surveillance": 1, "stop_and_search": 1}
    assert sum(facets["received_on"].values()) == 3

    status, page = await desk.get(
        "/api/v1/submissions?city=Leeds&city=London&kind=incident&technology=live_frt"
    )
    assert [s["id"] for s in page["submissions"]] == [london]
    day = page["submissions"][0]["received_on"]
    status, page = await desk.get(f"/api/v1/submissions?received_from={day}&received_to={day}")
    assert len(page["submissions"]) == 4
    status, page = await desk.get("/api/v1/submissions?received_to=2000-01-01")
    assert page["submissions"] == []
    # Pages follow each other in the order asked.
    status, page = await desk.get("/api/v1/submissions?sort=newest&limit=2")
    status, rest = await desk.get(f"/api/v1/submissions?sort=newest&cursor={page['next_cursor']}")
    assert [s["id"] for s in page["submissions"] + rest["submissions"]] == [
        camera,
        paris,
        leeds,
        london,
    ]


def _db_bytes(data_dir: DataDir) -> bytes:
    path = data_dir.database
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_a_note_is_stored_sealed_and_checked_against_the_current_keys(desk: Desk) -> None:
    first, _ = await desk.submit()
    text = json.dumps({"text": f"Call back after 6pm. {CANARY}"}).encode()
    box = seal(text, [MODERATOR.public], (first + ":note").encode())
    key_id = MODERATOR.public.key_id
    note = {"sealed": b64url_encode(box), "key_ids": [key_id]}

    status, stored = await desk.post(sub(first, "notes"), note)
    assert status == 201
    assert set(stored) == {"note_id", "at_ms"}
    assert CANARY.encode() not in _db_bytes(desk.data_dir)

    status, history = await desk.get(sub(first, "history"))
    [item] = history["items"]
    assert (item["type"], item["actor"], item["key_ids"]) == ("note", "token:alice", [key_id])
    opened = MODERATOR.open(b64url_decode(item["sealed"]), (first + ":note").encode())
    assert CANARY in json.loads(opened)["text"]
    assert "note" in [e["action"] for e in history["entries"]]

    # The recipients must be the box's, and exactly the node's current moderator keys.
    status, problem = await desk.post(sub(first, "notes"), {**note, "key_ids": ["0" * 12]})
    assert (status, "key_ids" in problem["detail"]) == (422, True)
    other = ModeratorKey.generate()
    await desk.client.app[STORE].submissions.add_key(
        other.public.key_id, other.public.text, "carol", actor="test"
    )
    status, problem = await desk.post(sub(first, "notes"), note)
    assert status == 422
    assert f"left out: {other.public.key_id}" in problem["detail"]
    stale = seal(b"x", [ModeratorKey.generate().public], b"c")
    status, problem = await desk.post(
        sub(first, "notes"),
        {"sealed": b64url_encode(stale), "key_ids": [stale_id := _only_recipient(stale)]},
    )
    assert (status, stale_id in problem["detail"]) == (422, True)
    status, _ = await desk.post(sub(first, "notes"), {"sealed": "AAAA", "key_ids": [key_id]})
    assert status == 400
    status, _ = await desk.post(sub(first, "notes"), {"sealed": "!!", "key_ids": [key_id]})
    assert status == 400


def _only_recipient(box: bytes) -> str:
    [key_id] = box_key_ids(box)
    return key_id


async def test_a_question_reaches_only_its_reporter_whose_answer_is_sealed(desk: Desk) -> None:
    # The node's log events, whatever stream an earlier test in this worker left them on.
    with capture_logs() as events:
        await _ask_and_answer(desk)
    logged = json.dumps(events, default=str)
    assert "/api/v1/submissions/{submission_id}/ask" in logged  # the log was captured
    # The answers leave no log line, as reports do; nothing of them is logged.
    assert "/answer" not in logged
    assert CANARY not in logged


async def _ask_and_answer(desk: Desk) -> None:
    asked, receipt = await desk.submit()
    other, other_receipt = await desk.submit()
    question = "Which exit of the station was it?\nWas the van marked?"
    status, answer = await desk.post(sub(asked, "ask"), {"question": question})
    assert (status, answer["status"]) == (200, "needs_info")

    check = "/api/v1/submissions/status"
    mine = await (await desk.client.post(check, json={"receipt": receipt})).json()
    assert mine == {"status": "needs_info", "question": question}
    theirs = await (await desk.client.post(check, json={"receipt": other_receipt})).json()
    assert theirs == {"status": "received"}

    # The status page shows the question only for its receipt code.
    token = await form_token(desk.client, "/report/status")
    page = await (
        await desk.client.post("/report/status", data={"csrf": token, "receipt": receipt})
    ).text()
    assert "Which exit of the station was it?" in page
    assert 'action="/report/answer' in page
    page = await (
        await desk.client.post("/report/status", data={"csrf": token, "receipt": other_receipt})
    ).text()
    assert "Which exit" not in page

    # The reporter answers from the page (no script): sealed, and pending again.
    empty = await desk.client.post(
        "/report/answer", data={"csrf": token, "receipt": receipt, "answer": " "}
    )
    assert empty.status == 400
    sent = await desk.client.post(
        "/report/answer",
        data={"csrf": token, "receipt": receipt, "answer": f"The north exit. {CANARY}"},
    )
    assert sent.status == 201, await sent.text()
    assert (await desk.client.app[STORE].submissions.get(asked)).status == "pending"  # type: ignore[union-attr]
    assert CANARY.encode() not in _db_bytes(desk.data_dir)
    again = await desk.client.post(
        "/report/answer", data={"csrf": token, "receipt": receipt, "answer": "More."}
    )
    assert again.status == 409

    # Asked again, answered through the JSON API.
    await desk.post(sub(asked, "ask"), {"question": "And the time?"})
    answer_route = "/api/v1/submissions/answer"
    answered = await desk.client.post(answer_route, json={"receipt": receipt, "answer": "17:40"})
    assert (answered.status, await answered.json()) == (201, {"status": "received"})
    refused = await desk.client.post(answer_route, json={"receipt": other_receipt, "answer": "x"})
    assert refused.status == 409
    unknown = await desk.client.post(answer_route, json={"receipt": "A" * 20, "answer": "x"})
    assert unknown.status == 404

    status, history = await desk.get(sub(asked, "history"))
    items = [(i["type"], i["question"], i["question_id"]) for i in history["items"]]
    first_q, second_q = history["items"][0]["id"], history["items"][2]["id"]
    assert items == [
        ("question", question, None),
        ("answer", None, first_q),
        ("question", "And the time?", None),
        ("answer", None, second_q),
    ]
    context = (asked + ":answer").encode()
    answers = [
        json.loads(MODERATOR.open(b64url_decode(i["sealed"]), context))
        for i in history["items"]
        if i["type"] == "answer"
    ]
    assert answers == [
        {"answer": f"The north exit. {CANARY}", "question_id": first_q},
        {"answer": "17:40", "question_id": second_q},
    ]
    # Neither the question nor the answer is in the audit log.
    log = json.dumps((await desk.get("/api/v1/audit"))[1])
    assert "north exit" not in log
    assert "Which exit" not in log
    assert [e["action"] for e in history["entries"]].count("answer") == 2
    assert {e["actor"] for e in history["entries"] if e["action"] == "answer"} == {"reporter"}

    # Only an open report can be asked about.
    await desk.post("/api/v1/submissions/reject", {"ids": [other], "reason": "spam"})
    assert (await desk.post(sub(other, "ask"), {"question": "?"}))[0] == 409


async def test_purging_a_private_part_empties_its_notes_questions_and_answers(
    desk: Desk,
) -> None:
    first, receipt = await desk.submit()
    box = seal(b'{"text": "n"}', [MODERATOR.public], (first + ":note").encode())
    await desk.post(
        sub(first, "notes"), {"sealed": b64url_encode(box), "key_ids": [MODERATOR.public.key_id]}
    )
    await desk.post(sub(first, "ask"), {"question": "When?"})
    await desk.client.post(
        "/api/v1/submissions/answer", json={"receipt": receipt, "answer": "At five."}
    )
    await desk.post("/api/v1/submissions/reject", {"ids": [first], "reason": "insufficient"})
    desk.clock.now += 1
    status, purged = await desk.post("/api/v1/submissions/purge", {"retention_days": 0})
    assert (status, purged) == (200, {"purged": [first]})
    items = (await desk.get(sub(first, "history")))[1]["items"]
    assert [(i["type"], i["sealed"], i["question"]) for i in items] == [
        ("note", None, None),
        ("question", None, None),
        ("answer", None, None),
    ]


async def test_duplicates_are_marked_in_bulk_of_a_submission_or_a_record(desk: Desk) -> None:
    original, _ = await desk.submit(country="GB", city="Leeds", category="stop_and_search")
    copies = [(await desk.submit(country="GB", city="Leeds"))[0] for _ in range(2)]
    rejected, _ = await desk.submit()
    await desk.post("/api/v1/submissions/reject", {"ids": [rejected], "reason": "spam"})
    await desk.post(sub(copies[1], "claim"), {}, desk.bob)

    route = "/api/v1/submissions/duplicate"
    status, marked = await desk.post(route, {"ids": [*copies, rejected], "of": original})
    assert status == 200
    assert marked == {
        "marked": [copies[0]],
        "skipped": {copies[1]: "claimed by token:bob", rejected: "rejected"},
    }
    view = (await desk.get(sub(copies[0])))[1]
    assert (view["status"], view["reason"], view["duplicate_of"]) == (
        "duplicate",
        "duplicate",
        original,
    )
    status, problem = await desk.post(route, {"ids": [original], "of": original})
    assert (status, "of" in problem["detail"]) == (422, True)
    status, problem = await desk.post(route, {"ids": [original], "of": "0" * 64})
    assert status == 422
    status, _ = await desk.post(route, {"ids": [original], "of": "nonsense"})
    assert status == 400

    # A record this node holds is a target too.
    published = await desk.post(
        sub(original, "publish"), {"audience": "public", "body": incident_body()}
    )
    record_id = published[1]["record_id"]
    status, marked = await desk.post(route, {"ids": [copies[1]], "of": record_id}, desk.bob)
    assert marked == {"marked": [copies[1]], "skipped": {}}
    entries = (await desk.get(sub(copies[1], "history")))[1]["entries"]
    assert ("duplicate", {"of": record_id}) in [(e["action"], e["detail"]) for e in entries]


async def test_candidates_come_from_clear_fields_and_never_locate_an_incident(
    desk: Desk,
) -> None:
    body = incident_body()
    day = body["occurred_on"]["date"]
    mine, _ = await desk.submit(
        country=body["country"], city=body["city"], category=body["category"], occurred_on=day
    )
    twin, _ = await desk.submit(
        country=body["country"], city=body["city"], category=body["category"], occurred_on=day
    )
    await desk.submit(country="FR", city="Paris", occurred_on=day)  # another country
    source, _ = await desk.submit(
        country=body["country"], city=body["city"], category=body["category"], occurred_on=day
    )
    record_id = (await desk.post(sub(source, "publish"), {"audience": "network", "body": body}))[1][
        "record_id"
    ]

    status, found = await desk.get(sub(mine, "candidates") + f"?area={body['area'][:4]}")
    assert status == 200
    assert [c["id"] for c in found["submissions"]] == [twin]
    assert {"same_city", "same_category", "same_day"} <= set(found["submissions"][0]["why"])
    [record] = found["records"]
    assert record["record_id"] == record_id
    assert "same_area" in record["why"]
    assert (record["lat"], record["lon"]) == (None, None)
    # Not audited: nothing private was handed out.
    entries = (await desk.get("/api/v1/audit"))[1]["entries"]
    assert [e for e in entries if e["submission"] == mine] == []


async def test_deployment_candidates_within_a_radius(desk: Desk) -> None:
    body = deployment_body()
    mine, _ = await desk.submit(
        kind="deployment", category=None, country=body["country"], city=body.get("city")
    )
    published, _ = await desk.submit(
        kind="deployment", category=None, country=body["country"], city=body.get("city")
    )
    record_id = (await desk.post(sub(published, "publish"), {"audience": "public", "body": body}))[
        1
    ]["record_id"]
    cell = encode(body["lat_e7"], body["lon_e7"], 6)
    status, found = await desk.get(sub(mine, "candidates") + f"?area={cell}&radius_m=2000")
    assert status == 200
    [record] = [r for r in found["records"] if r["record_id"] == record_id]
    assert {"same_area", "within_radius"} <= set(record["why"])
    assert record["lat"] == pytest.approx(body["lat_e7"] / 1e7)


async def test_history_checks_the_whole_chain(desk: Desk) -> None:
    first, _ = await desk.submit()
    await desk.post(sub(first, "claim"), {})
    status, history = await desk.get(sub(first, "history"))
    assert (status, history["intact"], history["first_broken_seq"]) == (200, True, None)
    assert [e["action"] for e in history["entries"]] == ["claim", "view"]

    with sqlite3.connect(desk.data_dir.database) as conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET actor = 'token:mallory' WHERE action = 'claim'")
    status, history = await desk.get(sub(first, "history"))
    assert history["intact"] is False
    assert history["first_broken_seq"] == history["entries"][0]["seq"]
