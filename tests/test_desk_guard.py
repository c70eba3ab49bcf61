"""The desk's defences as a local web UI (node/desk/guard.py), against a real node app.

Each refusal the issue names is made for real over HTTP: no secret and no
cookie, a wrong secret, a wrong Host (DNS rebinding), another Origin, another
site, a POST without the CSRF token; and what a good session gets: the cookie
(HttpOnly, SameSite=Strict), the strict policy, the desk's own script.
"""

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from node.desk.app import serve_desk
from node.desk.guard import COOKIE, POLICY, Guard
from node.desk.nodeapi import NodeApi
from node.desk.state import Desk
from node.state import STORE
from protocol.sealing import ModeratorKey
from storage.tokens import Role

KEY = ModeratorKey.generate()
NodeClient = TestClient[aiohttp.web.Request, aiohttp.web.Application]


@pytest.fixture
async def desk(client: NodeClient) -> AsyncIterator[tuple[Desk, str]]:
    store = client.app[STORE]
    await store.submissions.add_key(KEY.public.key_id, KEY.public.text, "alice", actor="test")
    token = await store.tokens.create(Role.MODERATOR, "alice")
    api = NodeApi(str(client.make_url("")), token)
    the_desk = Desk(api, KEY, Guard())
    try:
        async with serve_desk(the_desk) as url:
            yield the_desk, url
    finally:
        await api.close()


async def fetch(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None, data: object = None
) -> tuple[int, dict[str, str], str]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, headers=headers, data=data, allow_redirects=False) as r,
    ):
        return r.status, dict(r.headers), await r.text()


async def test_the_desk_refuses_whoever_has_not_the_secret(desk: tuple[Desk, str]) -> None:
    the_desk, _url = desk
    base = f"http://127.0.0.1:{the_desk.guard.port}"
    status, headers, text = await fetch(base + "/")
    assert status == 403
    assert "no desk session" in text
    assert headers["Content-Security-Policy"] == POLICY
    assert (await fetch(base + "/?secret=guessed"))[0] == 403
    assert (await fetch(base + "/static/desk.js"))[0] == 403
    # A session cookie that is not the desk's is no session.
    assert (await fetch(base + "/", headers={"Cookie": f"{COOKIE}=guessed"}))[0] == 403


async def test_the_secret_opens_a_strict_session(desk: tuple[Desk, str]) -> None:
    the_desk, url = desk
    status, headers, _ = await fetch(url)
    assert status == 303
    assert headers["Location"] == "/"
    cookie = headers["Set-Cookie"]
    assert f"{COOKIE}={the_desk.guard.session}" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    session = {"Cookie": f"{COOKIE}={the_desk.guard.session}"}
    base = f"http://127.0.0.1:{the_desk.guard.port}"
    status, headers, text = await fetch(base + "/", headers=session)
    assert status == 200, text
    assert headers["Content-Security-Policy"] == POLICY
    assert "'unsafe-inline'" not in POLICY
    assert "default-src 'none'" in POLICY
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"
    assert '<script src="/static/desk.js"' in text
    assert "<script>" not in text
    status, headers, _ = await fetch(base + "/no-such-page", headers=session)
    assert status == 404
    assert headers["Content-Security-Policy"] == POLICY
    local = f"http://localhost:{the_desk.guard.port}/static/desk.js"
    status, headers, _ = await fetch(local, headers=session)
    assert status == 200
    assert "javascript" in headers["Content-Type"]


async def test_a_wrong_host_or_another_origin_is_refused(desk: tuple[Desk, str]) -> None:
    the_desk, _ = desk
    port = the_desk.guard.port
    base = f"http://127.0.0.1:{port}"
    session = {"Cookie": f"{COOKIE}={the_desk.guard.session}"}
    # DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1.
    for host in (f"evil.example:{port}", "127.0.0.1", f"127.0.0.1:{port + 1}"):
        status, _, text = await fetch(base + "/", headers={**session, "Host": host})
        assert (status, "own address" in text) == (403, True), host
    form = {"csrf": the_desk.guard.csrf, "id": "sub_aaaaaaaaaaaaaaaa", "action": "reject"}
    status, _, text = await fetch(
        base + "/bulk",
        method="POST",
        headers={**session, "Origin": "http://evil.example"},
        data=form,
    )
    assert status == 403
    assert "another origin" in text
    status, _, text = await fetch(
        base + "/bulk",
        method="POST",
        headers={**session, "Sec-Fetch-Site": "cross-site"},
        data=form,
    )
    assert status == 403
    assert "another site" in text


async def test_a_post_needs_the_csrf_token(desk: tuple[Desk, str]) -> None:
    the_desk, _ = desk
    base = f"http://127.0.0.1:{the_desk.guard.port}"
    session = {"Cookie": f"{COOKIE}={the_desk.guard.session}"}
    form = {"id": "sub_aaaaaaaaaaaaaaaa", "action": "reject", "reason": "spam"}
    status, _, text = await fetch(base + "/bulk", method="POST", headers=session, data=form)
    assert status == 403
    assert "CSRF" in text
    wrong = {**form, "csrf": "guessed"}
    assert (await fetch(base + "/bulk", method="POST", headers=session, data=wrong))[0] == 403
    right = {**form, "csrf": the_desk.guard.csrf}
    status, _, text = await fetch(base + "/bulk", method="POST", headers=session, data=right)
    assert status == 200, text  # the node skipped the unknown id; the desk says so
    assert "sub_aaaaaaaaaaaaaaaa" in text


async def test_only_the_public_preview_may_be_framed_and_only_by_the_desk(
    desk: tuple[Desk, str],
) -> None:
    """The review page frames the draft as the public site shows it; that page alone may
    be framed, by the desk's own origin, and it uses the site's stylesheet, served here."""
    the_desk, _url = desk
    session = {"Cookie": f"{COOKIE}={the_desk.guard.session}"}
    base = f"http://127.0.0.1:{the_desk.guard.port}"
    status, headers, text = await fetch(base + "/r/sub_aaaaaaaaaaaaaaaa/public", headers=session)
    assert status == 200, text
    assert "frame-ancestors 'self'" in headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert 'href="/site/site.css"' in text
    assert "<script" not in text
    status, headers, css = await fetch(base + "/site/site.css", headers=session)
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert ".fields" in css
    assert headers["X-Frame-Options"] == "DENY"
    assert (
        "frame-ancestors 'none'"
        in (await fetch(base + "/", headers=session))[1]["Content-Security-Policy"]
    )
    assert "frame-ancestors 'none'" in POLICY
