"""The reports and moderation routes answer what the OpenAPI document says, every status of it.

Each documented answer of each route under ``/report``, ``/api/v1/submissions``,
``/api/v1/moderators`` and ``/api/v1/audit`` is produced by a real request, and
its body checked against the documented schema.
"""

from pathlib import Path
from typing import Any

from aiohttp import ClientResponse

from node.api.openapi.submissions import submission_paths
from node.datadir import DataDir
from node.state import STORE
from storage.tokens import Role
from tests.conftest import ClientFactory, NodeClient, bearer, with_stewards
from tests.factories import STEWARD, deployment_body, incident_body
from tests.test_api_openapi import METHODS, Conformance
from tests.test_report_form import form_token
from tests.test_report_form import report as form_report
from tests.test_submissions_api import add_moderator, limited_client, report


def fresh_data_dir(tmp_path: Path, name: str) -> DataDir:
    """Another node, set up as the ``data_dir`` fixture sets up its own."""
    directory = DataDir(tmp_path / name)
    key = directory.init("banthescan", [])
    with_stewards(directory, key.text, STEWARD.text)
    return directory


async def test_every_documented_answer_of_the_submission_routes_is_real(
    aiohttp_client: ClientFactory, data_dir: DataDir, tmp_path: Path
) -> None:
    client = await limited_client(aiohttp_client, data_dir, per_client_per_hour=10_000)
    document = await (await client.get("/api/v1/openapi.json")).json()
    conformance = Conformance(document)
    store = client.app[STORE]
    tokens = {role: await store.tokens.create(role, f"test {role.value}") for role in Role}
    moderator, publisher = bearer(tokens[Role.MODERATOR]), bearer(tokens[Role.PUBLISHER])

    async def check(method: str, path: str, response: ClientResponse) -> Any:
        return await conformance.check(method, path, response)

    # Closed until a moderator key is added.
    closed = await limited_client(aiohttp_client, fresh_data_dir(tmp_path, "closed"))
    await check("post", "/api/v1/submissions", await _closed_submit(closed))
    css = next(iter(await _stylesheets(client)))
    await check("get", "/static/{name}", await client.get(css))

    # The JSON intake.
    submissions, receipt_route = "/api/v1/submissions", "/api/v1/submissions/status"
    created = await check("post", submissions, await client.post(submissions, json=report()))
    for bad in (
        client.post(submissions, data=b"{", headers={"Content-Type": "application/json"}),
        client.post(submissions, data=b"kind=incident"),
        client.post(submissions, json=report(what_happened="x" * 70_000)),
        client.post(submissions, json=report(country="XX")),
    ):
        await check("post", submissions, await bad)
    for payload in ({"receipt": created["receipt"]}, {"receipt": "1"}, {"receipt": "A" * 20}):
        await check("post", receipt_route, await client.post(receipt_route, json=payload))
    await check("post", receipt_route, await client.post(receipt_route, data=b"receipt"))
    await check(
        "post",
        receipt_route,
        await client.post(receipt_route, json={"receipt": "x" * 5000}),
    )

    # Moderation.
    for headers in (moderator, {}, publisher):
        await check("get", submissions, await client.get(submissions, headers=headers))
    await check("get", submissions, await client.get(f"{submissions}?status=x", headers=moderator))
    page = await check("get", submissions, await client.get(submissions, headers=moderator))
    first = page["submissions"][0]["id"]
    one = "/api/v1/submissions/{submission_id}"
    for submission_id, headers in (
        (first, moderator),
        ("sub_aaaaaaaaaaaaaaaa", moderator),
        (first, {}),
        (first, publisher),
    ):
        await check("get", one, await client.get(f"{submissions}/{submission_id}", headers=headers))

    publish_route = "/api/v1/submissions/{submission_id}/publish"
    await client.post(submissions, json=report(consent_publish=False))
    page = await check("get", submissions, await client.get(submissions, headers=moderator))
    no_consent = page["submissions"][1]["id"]
    publish_cases: list[tuple[str, Any, dict[str, str]]] = [
        (first, {"audience": "public", "body": incident_body()}, moderator),
        (no_consent, {"audience": "public", "body": incident_body()}, moderator),
        (first, {"audience": "public"}, moderator),
        (first, {"audience": "public", "body": deployment_body()}, moderator),
        ("sub_aaaaaaaaaaaaaaaa", {"audience": "public", "body": incident_body()}, moderator),
        (first, {"audience": "public", "body": incident_body()}, {}),
        (first, {"audience": "public", "body": incident_body()}, publisher),
        (first, {"audience": "public", "body": {"summary": "x" * 300_000}}, moderator),
    ]
    for submission_id, payload, headers in publish_cases:
        response = await client.post(
            f"{submissions}/{submission_id}/publish", json=payload, headers=headers
        )
        await check("post", publish_route, response)
    await check(
        "post",
        publish_route,
        await client.post(f"{submissions}/{first}/publish", data=b"x", headers=moderator),
    )

    retract_route = "/api/v1/submissions/{submission_id}/retract"
    for submission_id, payload, headers in (
        (first, {"reason": "error"}, moderator),
        (first, {"reason": "error"}, moderator),  # no longer published
        (first, {"reason": "whim"}, moderator),
        (first, {}, moderator),
        ("sub_aaaaaaaaaaaaaaaa", {"reason": "error"}, moderator),
        (first, {"reason": "error"}, {}),
        (first, {"reason": "error"}, publisher),
        (first, {"reason": "x" * 5000}, moderator),
    ):
        response = await client.post(
            f"{submissions}/{submission_id}/retract", json=payload, headers=headers
        )
        await check("post", retract_route, response)
    await check(
        "post",
        retract_route,
        await client.post(f"{submissions}/{first}/retract", data=b"x", headers=moderator),
    )

    for route, good, wrong_reason in (
        (
            "/api/v1/submissions/reject",
            {"ids": [no_consent], "reason": "spam"},
            {"ids": [no_consent], "reason": "whim"},
        ),
        ("/api/v1/submissions/purge", {"retention_days": 0}, None),
    ):
        for payload, headers in (
            (good, moderator),
            ({"nonsense": 1}, moderator),
            (good, {}),
            (good, publisher),
            ({"ids": ["x" * 60] * 500, "reason": "x" * 300_000}, moderator),
        ):
            await check("post", route, await client.post(route, json=payload, headers=headers))
        if wrong_reason is not None:
            await check(
                "post", route, await client.post(route, json=wrong_reason, headers=moderator)
            )
        await check("post", route, await client.post(route, data=b"x", headers=moderator))

    for route in ("/api/v1/moderators", "/api/v1/audit"):
        for headers in (moderator, {}, publisher):
            await check("get", route, await client.get(route, headers=headers))
    await check(
        "get", "/api/v1/audit", await client.get("/api/v1/audit?after=x", headers=moderator)
    )

    # The form pages.
    await check("get", "/report", await closed.get("/report"))
    await check("get", "/report", await client.get("/report"))
    await check("get", "/report/status", await client.get("/report/status"))
    await check("post", "/report", await closed_form_post(closed))
    for path in ("/report", "/report/status"):
        token = await form_token(client, path)
        fields = form_report(csrf=token) if path == "/report" else {"csrf": token}
        receipt = {"receipt": created["receipt"], "csrf": token}
        cases = [
            fields if path == "/report" else receipt,
            {**fields, "csrf": "forged"},
            {**(fields if path == "/report" else receipt), "x": "y" * 70_000},
        ]
        if path == "/report":
            cases.append({**fields, "country": "XX"})
        else:
            cases += [{**receipt, "receipt": "12"}, {**receipt, "receipt": "A" * 20}]
        for data in cases:
            await check("post", path, await client.post(path, data=data))
        await check(
            "post", path, await client.post(path, data=b"\xff", headers={"Content-Type": "x/y"})
        )
        await check(
            "post",
            path,
            await client.post(
                path,
                data=b"csrf=\xff\xfe",  # not UTF-8
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
        )
    limited = await limited_client(
        aiohttp_client, fresh_data_dir(tmp_path, "limited"), per_client_per_hour=1
    )
    for path in ("/report", "/report/status"):
        token = await form_token(limited, path)
        for _ in range(2):
            response = await limited.post(path, data={"csrf": token})
        await check("post", path, response)
    for route in (submissions, receipt_route):
        await check("post", route, await limited.post(route, json=report()))

    documented = {
        (method, path, status)
        for path, operations in submission_paths().items()
        for method, operation in operations.items()
        if method in METHODS
        for status in operation["responses"]
    }
    assert documented - conformance.seen == set()


async def _closed_submit(client: NodeClient) -> ClientResponse:
    await client.app[STORE].submissions.remove_key(
        (await client.app[STORE].submissions.keys())[0].key_id, actor="test"
    )
    return await client.post("/api/v1/submissions", json=report())


async def closed_form_post(client: NodeClient) -> ClientResponse:
    await add_moderator(client.app[STORE].submissions)
    token = await form_token(client)
    for key in await client.app[STORE].submissions.keys():
        await client.app[STORE].submissions.remove_key(key.key_id, actor="test")
    return await client.post("/report", data=form_report(csrf=token))


async def _stylesheets(client: NodeClient) -> list[str]:
    text = await (await client.get("/report")).text()
    start = text.index('href="/static/site.css')
    return [text[start + 6 : text.index('"', start + 6)]]
