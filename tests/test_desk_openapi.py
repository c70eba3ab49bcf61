"""The moderators' desk routes answer what the OpenAPI document says, every status of it.

Each documented answer of each route of :func:`node.api.openapi.desk.desk_paths` is
produced by a real request, and its body checked against the documented schema.
"""

from pathlib import Path
from typing import Any

from aiohttp import ClientResponse

from node.api.openapi.desk import desk_paths
from node.datadir import DataDir
from node.state import STORE
from protocol.keys import b64url_encode
from protocol.sealing import seal
from tests.conftest import ClientFactory
from tests.deskapp import Desk, desk_node, sub
from tests.test_api_openapi import METHODS, Conformance
from tests.test_report_form import form_token
from tests.test_submissions_api import MODERATOR, add_moderator
from tests.test_submissions_openapi import fresh_data_dir

NOBODY = "sub_aaaaaaaaaaaaaaaa"


async def test_every_documented_answer_of_the_desk_routes_is_real(
    aiohttp_client: ClientFactory, data_dir: DataDir, tmp_path: Path
) -> None:
    desk = await desk_node(aiohttp_client, data_dir)
    client = desk.client
    conformance = Conformance(await (await client.get("/api/v1/openapi.json")).json())

    async def check(method: str, path: str, response: ClientResponse) -> Any:
        return await conformance.check(method, path, response)

    first, receipt = await desk.submit()
    second, _ = await desk.submit()
    one = "/api/v1/submissions/{submission_id}"
    key_id = MODERATOR.public.key_id
    note = {
        "sealed": b64url_encode(seal(b'{"text": "n"}', [MODERATOR.public], b"x")),
        "key_ids": [key_id],
    }
    posts: list[tuple[str, str, Any, dict[str, str]]] = [
        ("claim", second, {}, desk.bob),  # bob holds second from here on
        ("claim", first, {}, desk.alice),
        ("claim", second, {}, desk.alice),  # 409
        ("claim", first, {"take_over": 1}, desk.alice),
        ("claim", first, {"take_over": "x" * 5000}, desk.alice),
        ("release", first, {}, desk.alice),
        ("release", second, {}, desk.alice),
        ("release", first, {"x": 1}, desk.alice),
        ("release", first, {"x": "x" * 5000}, desk.alice),
        ("notes", first, note, desk.alice),
        ("notes", second, note, desk.alice),
        ("notes", first, {**note, "key_ids": ["0" * 12]}, desk.alice),
        ("notes", first, {"sealed": 1, "key_ids": []}, desk.alice),
        ("notes", first, {"sealed": "A" * 200_000, "key_ids": [key_id]}, desk.alice),
        ("ask", first, {"question": "Where?"}, desk.alice),
        ("ask", second, {"question": "Where?"}, desk.alice),
        ("ask", first, {}, desk.alice),
        ("ask", first, {"question": "x" * 30_000}, desk.alice),
    ]
    for action, submission_id, payload, headers in posts:
        path = f"{one}/{action}"
        await check(
            "post",
            path,
            await client.post(sub(submission_id, action), json=payload, headers=headers),
        )
    for action in ("claim", "release", "notes", "ask"):
        path = f"{one}/{action}"
        for headers in ({}, desk.publisher, desk.alice):
            target = NOBODY if headers is desk.alice else first
            payload = note if action == "notes" else ({"question": "?"} if action == "ask" else {})
            await check(
                "post", path, await client.post(sub(target, action), json=payload, headers=headers)
            )
        await check(
            "post", path, await client.post(sub(first, action), data=b"x", headers=desk.alice)
        )

    for action, queries in (
        ("candidates", ("", "?days=x")),
        ("history", ("",)),
    ):
        path = f"{one}/{action}"
        for query in queries:
            await check(
                "get", path, await client.get(sub(first, action) + query, headers=desk.alice)
            )
        for submission_id, headers in ((NOBODY, desk.alice), (first, {}), (first, desk.publisher)):
            await check("get", path, await client.get(sub(submission_id, action), headers=headers))

    route = "/api/v1/submissions/duplicate"
    third, _ = await desk.submit()
    for payload, headers in (
        ({"ids": [third], "of": second}, desk.alice),
        ({"ids": [third], "of": third}, desk.alice),
        ({"ids": [third]}, desk.alice),
        ({"ids": [third], "of": "x" * 100_000}, desk.alice),
        ({"ids": [third], "of": second}, {}),
        ({"ids": [third], "of": second}, desk.publisher),
    ):
        await check("post", route, await client.post(route, json=payload, headers=headers))
    await check("post", route, await client.post(route, data=b"x", headers=desk.alice))

    await _answers(desk, check, receipt)
    await _answer_limits(aiohttp_client, tmp_path, check)

    documented = {
        (method, path, status)
        for path, operations in desk_paths().items()
        for method, operation in operations.items()
        if method in METHODS
        for status in operation["responses"]
    }
    assert documented - conformance.seen == set()


async def _answers(desk: Desk, check: Any, receipt: str) -> None:
    """The reporter's answers, JSON and form; ``receipt``'s report waits on a question."""
    client, api, form = desk.client, "/api/v1/submissions/answer", "/report/answer"
    token = await form_token(client, "/report/status")
    other, other_receipt = await desk.submit()
    # No moderator key: the answer cannot be sealed.
    submissions = client.app[STORE].submissions
    await submissions.remove_key(MODERATOR.public.key_id, actor="test")
    await check("post", api, await client.post(api, json={"receipt": receipt, "answer": "x"}))
    fields = {"csrf": token, "receipt": receipt, "answer": "x"}
    await check("post", form, await client.post(form, data=fields))
    await add_moderator(submissions)
    for payload in (
        {"receipt": receipt, "answer": "North exit."},
        {"receipt": other_receipt, "answer": "x"},  # no question waits
        {"receipt": "A" * 20, "answer": "x"},
        {"receipt": "12", "answer": "x"},
        {"receipt": receipt, "answer": "x" * 70_000},
    ):
        await check("post", api, await client.post(api, json=payload))
    await check("post", api, await client.post(api, data=b"x"))

    await desk.post(sub(other, "ask"), {"question": "When?"})
    for data in (
        {"csrf": token, "receipt": other_receipt, "answer": " "},
        {"csrf": token, "receipt": other_receipt, "answer": "At five."},
        {"csrf": token, "receipt": other_receipt, "answer": "Again."},  # 409
        {"csrf": token, "receipt": "A" * 20, "answer": "x"},
        {"csrf": "forged", "receipt": other_receipt, "answer": "x"},
        {"csrf": token, "receipt": other_receipt, "answer": "x" * 70_000},
    ):
        await check("post", form, await client.post(form, data=data))
    await check(
        "post", form, await client.post(form, data=b"\xff", headers={"Content-Type": "x/y"})
    )


async def _answer_limits(aiohttp_client: ClientFactory, tmp_path: Path, check: Any) -> None:
    """Answers count against the report limits."""
    limited = await desk_node(
        aiohttp_client, fresh_data_dir(tmp_path, "limited"), per_client_per_hour=1
    )
    token = await form_token(limited.client, "/report/status")
    answer = {"receipt": "A" * 20, "answer": "x"}
    for _ in range(2):
        api = await limited.client.post("/api/v1/submissions/answer", json=answer)
    await check("post", "/api/v1/submissions/answer", api)
    form = await limited.client.post("/report/answer", data={"csrf": token, **answer})
    await check("post", "/report/answer", form)


async def test_the_moderators_answer_says_the_default_audience_the_node_is_configured_with(
    aiohttp_client: ClientFactory, data_dir: DataDir, monkeypatch: Any
) -> None:
    """``[moderation] incident_audience`` reaches the desk and the CLI through
    ``GET /api/v1/moderators``, as documented; deployments default to ``public``."""
    monkeypatch.setenv("BANSCAN_MODERATION_INCIDENT_AUDIENCE", "public")
    desk = await desk_node(aiohttp_client, data_dir)
    conformance = Conformance(await (await desk.client.get("/api/v1/openapi.json")).json())
    response = await desk.client.get("/api/v1/moderators", headers=desk.alice)
    answer = await conformance.check("get", "/api/v1/moderators", response)
    assert answer["default_audience"] == {"deployment": "public", "incident": "public"}
