"""The moderators' desk in real headless Chromium, against a real node process.

One long flow, as a volunteer moderator works: alice opens the desk, moves
in the queue with the keyboard and opens a report (claiming it), bob's desk
shows him that alice holds it; alice redacts the reporter's words out of the
draft, the live preview follows, she publishes to ``public`` and the record is
on the node and on the public site; a second report is suggested as a
duplicate and merged side by side; a camera sighting is published once its
point is confirmed; a note is sealed and read back in the history; a last
report is rejected with the keyboard alone. Then a canary typed into a
report, and one typed into a note, are looked for everywhere on the node:
database and WAL, logs, metrics, API answers, exports.

Screenshots go to build/screenshots/desk-*.png; with ``DESK_DOC_IMAGES=1``
the ones docs/moderators.md shows are written to docs/img/ too.
"""

import asyncio
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright import async_api

from node.datadir import DataDir
from node.desk.app import serve_desk
from node.desk.guard import Guard
from node.desk.nodeapi import NodeApi
from node.desk.state import Desk
from protocol.sealing import ModeratorKey
from storage.tokens import Role
from tests.browser import ROOT, axe_violations, needs_chromium, open_browser, screenshot, visit
from tests.conftest import node_store
from tests.moderating import ALICE, new_node
from tests.nodeproc import running_node

pytestmark = needs_chromium

BOB = ModeratorKey.generate()
CANARY = "Zq7canaryDESK"
NOTE_CANARY = "Wx4notecanary"
ANSWER_CANARY = "Kp2answercanary"
DOC_IMAGES = ROOT / "docs" / "img"


def report(**fields: Any) -> dict[str, Any]:
    base = {
        "kind": "incident",
        "occurred_on": "2026-10-03",
        "country": "GB",
        "city": "Cardiff",
        "place": "Queen Street, outside the station",
        "lat": 51.4816,
        "lon": -3.1791,
        "agency": "South Wales Police",
        "technology": "live_frt",
        "category": "protest_surveillance",
        "consent_publish": True,
    }
    return {**base, **fields}


A_TEXT = (
    f"A van with cameras on its roof filmed every face at the climate march. My friend {CANARY} "
    "was stopped and searched after the van flagged him, outside the station."
)
B_TEXT = (
    "A van with cameras on its roof filmed every face at the climate march outside the "
    "station; people were stopped and searched after the van flagged them."
)


@pytest.fixture
def tokens(tmp_path: Path) -> dict[str, str]:
    """A node whose reports are sealed to alice and bob; a moderator token for each."""
    path = new_node(tmp_path / "node")

    async def add() -> dict[str, str]:
        async with node_store(path) as store:
            await store.submissions.add_key(BOB.public.key_id, BOB.public.text, "bob", actor="t")
            return {who: await store.tokens.create(Role.MODERATOR, who) for who in ("alice", "bob")}

    return asyncio.run(add())


@asynccontextmanager
async def desk_of(node_url: str, token: str, key: ModeratorKey) -> AsyncIterator[str]:
    api = NodeApi(node_url, token)
    try:
        async with serve_desk(Desk(api, key, Guard())) as url:
            yield url
    finally:
        await api.close()


async def shot(page: async_api.Page, name: str, *, whole: bool = True) -> None:
    """A screenshot among the test's artifacts, and in docs/img/ when asked for;
    ``whole=False`` keeps only the top of the page there (the docs' images stay small)."""
    await screenshot(page, name)
    if os.environ.get("DESK_DOC_IMAGES"):
        DOC_IMAGES.mkdir(exist_ok=True)
        await page.evaluate("window.scrollTo(0, 0)")
        await page.screenshot(path=str(DOC_IMAGES / f"{name}.png"), full_page=whole)


async def tick_reviewed(page: async_api.Page) -> None:
    """Tick every "reviewed" box of the draft, each after the preview the last one asked
    for has come back: a preview redraws the page (the field's mark hides), and a click
    on a box that moved under it misses."""
    for box in await page.locator("input[type=checkbox][name=reviewed]").all():
        async with page.expect_response(lambda r: r.url.endswith("/preview")):
            await box.check()


async def submit(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> str:
    """Send a report as the public does; its receipt code."""
    async with session.post(url + "/api/v1/submissions", json=body) as response:
        assert response.status == 201, await response.text()
        receipt: str = (await response.json())["receipt"]
        return receipt


async def submission_ids(session: aiohttp.ClientSession, url: str, token: str) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(url + "/api/v1/submissions", headers=headers) as response:
        return [s["id"] for s in (await response.json())["submissions"]]


async def test_a_moderator_works_through_the_queue_in_the_desk(
    tmp_path: Path, tokens: dict[str, str]
) -> None:
    data_dir = DataDir(tmp_path / "node")
    with running_node(data_dir.path) as node:
        async with aiohttp.ClientSession() as http:
            await submit(http, node.url, report(what_happened=A_TEXT, names=f"{CANARY} Jones"))
            await submit(http, node.url, report(what_happened=B_TEXT))
            sighting = report(
                kind="deployment",
                what_happened="Two cameras on a pole by the bus station, pointing at the doors.",
                category=None,
                technology="live_frt",
                lat=51.4769,
                lon=-3.1772,
            )
            await submit(http, node.url, sighting)
            await submit(http, node.url, report(what_happened="Nothing to do with cameras."))
            e_receipt = await submit(http, node.url, report(what_happened="A scan, somewhere."))
            await submit(http, node.url, report(what_happened="Buy cheap watches online."))
            await submit(http, node.url, report(what_happened=B_TEXT + " Again."))
            ids = await submission_ids(http, node.url, tokens["alice"])
            a_id, b_id, c_id, d_id, e_id, f_id, g_id = ids
            async with (
                desk_of(node.url, tokens["alice"], ALICE) as alice_url,
                desk_of(node.url, tokens["bob"], BOB) as bob_url,
                open_browser() as browser,
                visit(browser, alice_url, javascript=True) as alice,
            ):
                page = alice.page
                desk = alice_url.split("/?")[0]
                rows = page.locator("#queue tbody tr")
                assert await rows.count() == 7
                await shot(page, "desk-queue")
                # A saved view keeps the filters in this browser, never a search's words.
                await page.goto(f"{desk}/?kind=incident&q=van")
                await page.fill("#view-name", "Incidents")
                await page.click("#view-save")
                saved = page.locator("#view-list a", has_text="Incidents")
                assert await saved.get_attribute("href") == "/?kind=incident"
                await page.goto(f"{desk}/")

                # A search over the reports' text, opened here; a facet from the node.
                await page.fill("#q", CANARY.lower())
                await page.click("button[type=submit] >> nth=0")
                await page.wait_for_url(re.compile(f"q={CANARY.lower()}"))
                assert await rows.count() == 1
                await page.goto(f"{desk}/?kind=deployment")
                assert await rows.count() == 1
                await page.goto(f"{desk}/")
                await page.locator(".days a").first.click()  # the day they all arrived
                await page.wait_for_url(re.compile("received_from="))
                assert await rows.count() == 7
                assert await page.locator("#queue").get_by_text("Camera sighting").count() == 1
                await page.goto(f"{desk}/")

                # The queue with the keyboard: j moves to the first report, Enter opens it.
                await page.keyboard.press("j")
                await page.keyboard.press("Enter")
                await page.wait_for_url(f"{desk}/r/{a_id}")
                assert CANARY in await page.locator("#reporter-text").inner_text()
                assert await page.locator(".claim.mine").count() == 1

                # The desk speaks the moderator's language.
                async with visit(browser, alice_url, javascript=False, locale="es-ES") as es:
                    assert await es.page.locator("h1").inner_text() == "Informes por revisar"
                    await screenshot(es.page, "desk-queue-es")
                    # Without JavaScript, "Preview" shows the draft as edited.
                    await es.page.goto(f"{desk}/r/{d_id}")
                    await es.page.fill("#f-summary", "Nada que ver con cámaras.")
                    await es.page.click("#preview-button")
                    await es.page.locator("#preview-signed", has_text="Nada que ver").wait_for()
                    await screenshot(es.page, "desk-review-es-nojs")
                    es.assert_self_contained()

                # Nothing serious for axe-core on the queue and the review page.
                async with visit(browser, alice_url, javascript=True, bypass_csp=True) as audit:
                    assert await axe_violations(audit.page) == []
                    await audit.page.goto(f"{desk}/r/{a_id}")
                    assert await axe_violations(audit.page) == []

                # bob sees that alice holds it, and may take it over only explicitly.
                async with visit(browser, bob_url, javascript=False) as bob:
                    await bob.page.goto(f"{bob_url.split('/?')[0]}/r/{a_id}")
                    held = await bob.page.locator("#claim").inner_text()
                    assert "alice" in held
                    assert await bob.page.locator("#publish").is_disabled()
                    await shot(bob.page, "desk-claim-held", whole=False)
                    bob.assert_self_contained()

                # alice redacts: the summary in her own words, the rest reviewed.
                assert await page.locator("#mark-summary").is_visible()
                summary = "Live facial recognition van filmed marchers; one was searched."
                await page.fill("#f-summary", summary)
                await tick_reviewed(page)
                await page.fill("#f-sources", "")
                assert await page.locator("#audience-warning").is_visible()  # network default
                await page.select_option("#f-audience", "public")
                assert not await page.locator("#audience-warning").is_visible()
                signed = page.locator("#preview-signed")
                await signed.filter(has_text="Live facial recognition van").wait_for()
                assert CANARY not in await signed.inner_text()
                removed = " ".join(await page.locator("#preview-diff del").all_inner_texts())
                assert CANARY in removed
                # On the public site: the record page's own markup and stylesheet, from the desk.
                site = page.frame_locator("#preview-public")
                await site.locator(
                    ".summary-text", has_text="Live facial recognition van"
                ).wait_for()
                assert await site.locator("dl.fields dt").count() >= 5
                assert CANARY not in await site.locator("main").inner_text()
                sheet = await site.locator("link[rel=stylesheet]").get_attribute("href")
                assert sheet == "/site/site.css"
                await page.set_viewport_size({"width": 1280, "height": 1900})
                await shot(page, "desk-review", whole=False)  # the report, draft and previews
                await page.set_viewport_size({"width": 820, "height": 1100})  # a tablet
                await screenshot(page, "desk-review-tablet")
                await page.set_viewport_size({"width": 1280, "height": 900})
                await page.click("#publish")
                record_id = (await page.locator("#record-id").inner_text()).strip()
                assert await page.locator("#record-audience").inner_text() == "public: everyone"
                await screenshot(page, "desk-published")

                async with http.get(f"{node.url}/incidents/{record_id}") as response:
                    public_page = await response.text()
                    assert response.status == 200
                assert summary in public_page
                assert CANARY not in public_page

                # A correction starts from the record as published.
                await page.goto(f"{desk}/r/{a_id}")
                assert await page.input_value("#f-summary") == summary
                assert await page.input_value("#f-audience") == "public"
                await page.fill("#f-summary", summary + " Corrected.")
                await page.click("#publish")
                corrected_id = (await page.locator("#record-id").inner_text()).strip()
                async with http.get(f"{node.url}/incidents/{corrected_id}") as response:
                    assert "Corrected." in await response.text()

                # The second report is suggested as a duplicate of the first, and merged.
                await page.goto(f"{desk}/r/{b_id}")
                await page.locator(f"#candidates a[href$='/compare/{a_id}']").first.click()
                await shot(page, "desk-compare")
                await page.click("#merge")
                await page.locator("h1", has_text="Marked as duplicate").wait_for()

                # The camera sighting: published once its point is confirmed.
                await page.goto(f"{desk}/r/{c_id}")
                await tick_reviewed(page)
                await page.click("#publish")
                # Refused: the point is not confirmed yet; the page says so, nothing was sent.
                await page.get_by_text("Not published: review the marked fields").wait_for()
                await page.check("#point_confirmed")
                await tick_reviewed(page)
                await page.click("#publish")
                camera_id = (await page.locator("#record-id").inner_text()).strip()
                async with http.get(f"{node.url}/deployments/{camera_id}") as response:
                    assert response.status == 200
                # ... and retracted: it was published in error.
                await page.goto(f"{desk}/r/{c_id}")
                await page.select_option("#retract-reason", "error")
                await page.click("#retract")
                await page.locator("h1", has_text="Retracted").wait_for()

                # A question for the reporter, shown on their status page.
                await page.goto(f"{desk}/r/{e_id}")
                await page.fill("#question", "Which town was it in?")
                await page.click("#ask")
                await page.locator("h1", has_text="Question sent").wait_for()
                status_url = f"{node.url}/api/v1/submissions/status"
                async with http.post(status_url, json={"receipt": e_receipt}) as response:
                    assert (await response.json())["status"] == "needs_info"
                # The reporter answers; the answer, sealed at the node, opens in the history.
                answer = {"receipt": e_receipt, "answer": f"In Newport, ask {ANSWER_CANARY}."}
                answer_url = f"{node.url}/api/v1/submissions/answer"
                async with http.post(answer_url, json=answer) as response:
                    assert response.status == 201, await response.text()
                await page.goto(f"{desk}/r/{e_id}/history")
                assert ANSWER_CANARY in await page.locator(".items").inner_text()

                # A note, then the last report rejected with the keyboard alone.
                await page.goto(f"{desk}/r/{d_id}")
                await page.keyboard.press("n")
                await page.keyboard.type(f"Asked around: {NOTE_CANARY} says it is spam.")
                await page.keyboard.press("Tab")
                await page.keyboard.press("Enter")
                await page.wait_for_url(f"{desk}/r/{d_id}/history")
                assert NOTE_CANARY in await page.locator(".items").inner_text()
                await shot(page, "desk-history")
                await page.keyboard.press("u")
                await page.wait_for_url(f"{desk}/")
                await page.keyboard.press("j")
                await page.keyboard.press("Enter")
                await page.wait_for_url(f"{desk}/r/{d_id}")
                await page.keyboard.press("r")
                await page.keyboard.press("Tab")
                await page.keyboard.press("Enter")
                await page.locator("h1", has_text="Rejected").wait_for()

                # The spam left in the queue, ticked and rejected in bulk.
                await page.goto(f"{desk}/")
                await page.check(f"input[name=id][value={f_id}]")
                await page.select_option("#bulk-reason", "spam")
                await page.click("button[value=reject]")
                await page.locator("h1", has_text="Rejected").wait_for()
                assert f_id in await page.locator("main").inner_text()
                # ... and the last repeat of the first report marked as its duplicate.
                await page.goto(f"{desk}/")
                await page.check(f"input[name=id][value={g_id}]")
                await page.fill("#bulk-of", a_id)
                await page.click("button[value=duplicate]")
                await page.locator("h1", has_text="Marked as duplicate").wait_for()
                assert g_id in await page.locator("main").inner_text()

                # bob takes over the report alice asked about, explicitly.
                async with visit(browser, bob_url, javascript=True) as bob:
                    await bob.page.goto(f"{bob_url.split('/?')[0]}/r/{e_id}")
                    await bob.page.click("#take-over")
                    await bob.page.locator(".claim.mine").wait_for()
                    assert "token:bob" in await bob.page.locator("header").inner_text()
                    bob.assert_self_contained()
                alice.assert_self_contained()

        # Nowhere on the node: the canaries were only ever in sealed boxes.
        found = await leaks(node.url, tokens["alice"], data_dir, node.stderr_lines)
        assert found == []


async def leaks(url: str, token: str, data_dir: DataDir, log: list[str]) -> list[str]:
    """Where on the node any canary shows: database, WAL, logs, metrics, API, exports."""
    headers = {"Authorization": f"Bearer {token}"}
    places: dict[str, bytes] = {"log": "".join(log).encode()}
    for path in (data_dir.database, data_dir.database.with_name(data_dir.database.name + "-wal")):
        if path.exists():
            places[path.name] = path.read_bytes()
    async with aiohttp.ClientSession(headers=headers) as http:
        for route in (
            "/metrics",
            "/api/v1/records?limit=100",
            "/api/v1/submissions?status=published",
            "/api/v1/audit",
            "/api/v1/export?format=ndjson&kind=incident",
            "/api/v1/export?format=csv&kind=incident",
            "/api/v1/export?format=geojson&kind=deployment",
        ):
            async with http.get(url + route) as response:
                places[route] = await response.read()
    return [
        f"{canary} in {where}"
        for where, data in places.items()
        for canary in (CANARY, NOTE_CANARY, ANSWER_CANARY)
        if re.search(re.escape(canary.encode()), data, re.IGNORECASE)
    ]


def test_doc_images_are_small() -> None:
    """The screenshots docs/moderators.md shows stay small enough to keep in git."""
    for image in sorted(DOC_IMAGES.glob("desk-*.png")):
        assert image.stat().st_size < 400_000, image
