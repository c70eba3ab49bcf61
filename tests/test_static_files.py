"""``GET /static/{path}``: the files under node/web/static, versioned, cached and gzipped.

A text file's gzip form is made on its first request (not at import, which every
``banscan`` command pays): it must still be the file, the same on every request.
"""

import gzip

from aiohttp import ClientSession

from node.web.static import FILES, IMMUTABLE, REVALIDATE, static_url
from tests.conftest import NodeClient

SCRIPT = "map.js"


async def raw_get(
    client: NodeClient, url: str, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """A GET whose body is left as sent (the test client would inflate a gzipped one)."""
    async with (
        ClientSession(auto_decompress=False) as session,
        session.get(client.make_url(url), headers=headers) as response,
    ):
        return response.status, dict(response.headers), await response.read()


async def test_a_text_file_is_gzipped_on_request_and_the_same_every_time(
    client: NodeClient,
) -> None:
    body = FILES[SCRIPT].body
    answers = [await raw_get(client, static_url(SCRIPT), **{"Accept-Encoding": "gzip"})]
    answers.append(await raw_get(client, static_url(SCRIPT), **{"Accept-Encoding": "gzip"}))
    for status, headers, data in answers:
        assert status == 200
        assert headers["Content-Encoding"] == "gzip"
        assert headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert headers["Cache-Control"] == IMMUTABLE
        assert gzip.decompress(data) == body
        assert len(data) < len(body)
    assert answers[0][2] == answers[1][2]

    status, headers, data = await raw_get(client, f"/static/{SCRIPT}", **{"Accept-Encoding": ""})
    assert (status, data) == (200, body)
    assert "Content-Encoding" not in headers
    assert headers["Cache-Control"] == REVALIDATE


async def test_an_etag_revalidates_and_only_the_files_there_are_served(
    client: NodeClient,
) -> None:
    status, _, data = await raw_get(
        client, static_url(SCRIPT), **{"If-None-Match": FILES[SCRIPT].etag}
    )
    assert (status, data) == (304, b"")
    assert (await raw_get(client, "/static/nothing-here.js"))[0] == 404
    assert (await raw_get(client, "/static/../static.py"))[0] == 404
