"""The audience the desk preselects is the node's default for the report's kind.

A node configured with ``[moderation] incident_audience = "public"`` (through its
environment variable) and one left at ``network``: the review page of an incident
preselects that audience, names it as the node's default, and shows the "not
public" warning only when it is not ``public``. A real node app, a real desk over
HTTP; the page is read as the moderator's browser gets it.
"""

import re

import aiohttp
import pytest

from node.datadir import DataDir
from node.desk.app import serve_desk
from node.desk.guard import COOKIE, Guard
from node.desk.nodeapi import NodeApi
from node.desk.state import Desk
from tests.conftest import ClientFactory
from tests.deskapp import desk_node
from tests.test_submissions_api import MODERATOR


@pytest.mark.parametrize("configured", ["public", None])
async def test_the_desk_preselects_the_nodes_default_audience_for_incidents(
    aiohttp_client: ClientFactory,
    data_dir: DataDir,
    monkeypatch: pytest.MonkeyPatch,
    configured: str | None,
) -> None:
    if configured is not None:
        monkeypatch.setenv("BANSCAN_MODERATION_INCIDENT_AUDIENCE", configured)
    node = await desk_node(aiohttp_client, data_dir)
    submission_id, _ = await node.submit()
    token = node.alice["Authorization"].removeprefix("Bearer ")
    api = NodeApi(str(node.client.make_url("")), token)
    desk = Desk(api, MODERATOR, Guard())
    try:
        async with serve_desk(desk):
            base = f"http://127.0.0.1:{desk.guard.port}"
            cookies = {"Cookie": f"{COOKIE}={desk.guard.session}"}
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{base}/r/{submission_id}", headers=cookies) as response,
            ):
                assert response.status == 200
                page = await response.text()
    finally:
        await api.close()
    expected = configured or "network"
    menu = page[page.index('id="f-audience"') :]
    selected = re.search(r'<option value="(\w+)" selected>', menu[: menu.index("</select>")])
    assert selected is not None
    assert selected.group(1) == expected
    default = re.search(r'id="audience-default">[^<]*<strong>([^<]*)</strong>', page)
    assert default is not None
    assert default.group(1).startswith(f"{expected}:")
    warning = re.search(r'<small id="audience-warning" class="warning" ?(hidden)?>', page)
    assert warning is not None
    assert (warning.group(1) == "hidden") == (expected == "public")
