"""``banscan desk`` as a moderator runs it: clear refusals, then a desk that serves.

Every refusal the issue names, through the real command in a child process: a
missing key file, the ``.pub`` file given as the key, a node that does not
answer, a token the node refuses. Then the desk started with ``--data-dir`` of
a running node and ``--no-browser``: it prints the URL with its secret, that
URL opens it, and Ctrl-C stops it.
"""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from node.cli.desk import opener
from node.cli.main import main
from node.moderation.keyfile import save_moderator_key
from storage.tokens import Role
from tests.conftest import node_store
from tests.moderating import ALICE, new_node
from tests.nodeproc import ROOT, banscan, running_node
from tests.ports import free_port

DESK = (sys.executable, "-m", "node.cli", "desk")


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "alice.key"
    save_moderator_key(ALICE, path)
    (tmp_path / "alice.key.pub").write_text(ALICE.public.text + "\n", encoding="utf-8")
    return path


@pytest.fixture
def node_dir(tmp_path: Path) -> tuple[Path, str]:
    """A node whose reports are sealed to alice, and her moderator token."""
    path = new_node(tmp_path / "node")

    async def token() -> str:
        async with node_store(path) as store:
            return await store.tokens.create(Role.MODERATOR, "alice")

    return path, asyncio.run(token())


def desk(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``banscan desk ARGS`` run in this process: its exit status and its error output."""
    status = main(["desk", *args])
    return status, capsys.readouterr().err


def test_the_desk_says_what_is_wrong_before_it_starts(
    key_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BANSCAN_TOKEN", "bst_not-a-token")
    nowhere = f"http://127.0.0.1:{free_port()}"
    status, err = desk(capsys, "--node", nowhere, "--key", f"{key_file}.nope")
    assert status == 2
    assert "cannot read the moderator key file" in err
    status, err = desk(capsys, "--node", nowhere, "--key", f"{key_file}.pub")
    assert status == 2
    assert "PUBLIC half" in err
    assert str(key_file) in err  # names the private file beside it
    status, err = desk(capsys, "--node", nowhere, "--key", str(key_file))
    assert status == 2
    assert "is the node running" in err
    status, err = desk(capsys, "--node", "http://node.example", "--key", str(key_file))
    assert status == 2
    assert "https://" in err
    status, err = desk(capsys, "--data-dir", str(key_file.parent), "--key", str(key_file))
    assert status == 2
    assert "no node is running" in err


async def test_the_desk_serves_the_url_it_prints_until_ctrl_c(
    key_file: Path, node_dir: tuple[Path, str]
) -> None:
    path, token = node_dir
    with running_node(path):
        desk = subprocess.Popen(
            [*DESK, "--data-dir", str(path), "--no-browser", "--key", str(key_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "BANSCAN_TOKEN": token, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert desk.stdout is not None
            line = await asyncio.to_thread(desk.stdout.readline)
            assert line.startswith("banscan desk: open http://127.0.0.1:"), line
            url = line.split()[-1]
            assert "?secret=" in url
            jar = aiohttp.CookieJar(unsafe=True)  # the desk's cookie is for 127.0.0.1
            async with aiohttp.ClientSession(cookie_jar=jar) as http, http.get(url) as answer:
                page = await answer.text()
                assert answer.status == 200
                assert answer.url.query.get("secret") is None
            assert "token:alice" not in page  # no claim yet: the desk does not know its name
            assert "<h1>" in page
            # The same node refuses a token that is not a moderator's, and the desk says so.
            refused = await asyncio.to_thread(
                banscan,
                "desk",
                "--data-dir",
                str(path),
                "--key",
                str(key_file),
                env={"BANSCAN_TOKEN": "bst_not-a-token"},
            )
            assert refused.returncode == 2
            assert "refused the token" in refused.stderr
            assert "--role moderator" in refused.stderr
            desk.send_signal(signal.SIGINT)
            assert await asyncio.to_thread(desk.wait, 20) in (0, 130)
        finally:
            desk.kill()
            desk.wait()
            for pipe in (desk.stdout, desk.stderr):
                if pipe is not None:
                    pipe.close()


def test_the_browser_is_started_on_a_private_page_not_with_the_secret() -> None:
    """The secret stays off the browser's command line, which other users can read."""
    url = "http://127.0.0.1:5000/?secret=abc"
    with opener(url) as start:
        assert start.startswith("file://")
        assert "secret" not in start
        page = Path(urlsplit(start).path)
        assert page.stat().st_mode & 0o777 == 0o600
        assert "url=http://127.0.0.1:5000/?secret=abc" in page.read_text(encoding="utf-8")
    assert not page.exists()
