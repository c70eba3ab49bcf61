"""``banscan desk``: the moderators' desk, a web UI on this machine (:mod:`node.desk`).

It loads the private key file into memory, checks that the node answers and
takes the token, then serves the desk on 127.0.0.1 on a free port and opens
the browser at the URL with its secret (printed too), until Ctrl-C.
"""

import argparse
import asyncio
import contextlib
import getpass
import html
import os
import sys
import tempfile
import urllib.parse
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from node.cli.common import CommandError, data_dir_of
from node.cli.registrar import Registrar, add_data_dir_option
from node.moderation.keyfile import load_moderator_key
from protocol.sealing import ModeratorKey

TOKEN_ENV: Final = "BANSCAN_TOKEN"  # noqa: S105 (the name of a variable, not a token)
_LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "::1", "localhost"})


def register(cli: Registrar) -> None:
    parser = cli.command(
        "desk",
        "open the moderators' desk: review, redact and decide on reports in your browser, "
        "with your key kept on this machine",
        cmd_desk,
    )
    parser.add_argument(
        "--node", metavar="URL", help="the node's address, e.g. https://chapter.example"
    )
    add_data_dir_option(parser)
    parser.add_argument(
        "--key",
        type=Path,
        required=True,
        metavar="FILE",
        help="your PRIVATE moderator key file (from banscan moderators keygen; not the .pub)",
    )
    parser.add_argument("--port", type=int, default=0, help="the local port (default: a free one)")
    parser.add_argument(
        "--no-browser", action="store_true", help="print the URL without opening a browser"
    )


def node_url(args: argparse.Namespace) -> str:
    """The node to talk to: ``--node``, else the node running from the data directory."""
    if args.node is not None:
        if args.data_dir is not None:
            raise CommandError("give --node or --data-dir, not both")
        url = str(args.node)
        if not url.startswith(("http://", "https://")):
            raise CommandError("--node must be an http:// or https:// URL")
        host = urllib.parse.urlsplit(url).hostname or ""
        if url.startswith("http://") and host not in _LOCAL_HOSTS:
            raise CommandError(
                "--node must be https:// unless the node is on this machine: the token and "
                "the reports' sealed parts would cross the network in the clear"
            )
        return url
    data_dir = data_dir_of(args)
    running = data_dir.running_url()
    if running is None:
        raise CommandError(
            f"no node is running from {data_dir.path}: start it with banscan run, "
            "or give --node URL"
        )
    return running


def token_of() -> str:
    token = os.environ.get(TOKEN_ENV)
    if token:
        return token
    if not sys.stdin.isatty():
        raise CommandError(f"give a moderator token in ${TOKEN_ENV}")
    token = getpass.getpass("moderator token: ").strip()
    if not token:
        raise CommandError(f"no token given; set ${TOKEN_ENV} or type the token")
    return token


@contextlib.contextmanager
def opener(url: str) -> Iterator[str]:
    """A file:// page, readable by this user only, that redirects to ``url``: what the
    browser is started with, so the secret is not on its command line, which other
    users of the machine can read (as Jupyter does). Deleted when the desk stops."""
    fd, name = tempfile.mkstemp(prefix="banscan-desk-", suffix=".html")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as page:
            page.write(
                '<!doctype html><meta charset="utf-8">'
                f'<meta http-equiv="refresh" content="0;url={html.escape(url)}">'
                f'<a href="{html.escape(url)}">banscan desk</a>\n'
            )
        yield Path(name).as_uri()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def cmd_desk(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise CommandError("--port must be from 0 to 65535")
    key = load_moderator_key(args.key)  # KeyFormatError says what is wrong with the file
    url = node_url(args)
    token = token_of()
    return asyncio.run(_serve(url, token, key, args.port, open_browser=not args.no_browser))


async def _serve(url: str, token: str, key: ModeratorKey, port: int, *, open_browser: bool) -> int:
    # The desk's web app and client: only this command needs them (see node.cli).
    from node.desk.app import serve_desk
    from node.desk.guard import Guard
    from node.desk.nodeapi import NodeApi, NodeError, NodeUnreachable, TokenRefused
    from node.desk.state import Desk

    api = NodeApi(url, token)
    try:
        try:
            info = await api.check()
        except NodeUnreachable as exc:
            raise CommandError(f"{exc.detail}; is the node running, and is --node right?") from exc
        except TokenRefused as exc:
            raise CommandError(
                f"the node refused the token ({exc.detail}); give a moderator token "
                f"(banscan token create --role moderator) in ${TOKEN_ENV}"
            ) from exc
        except NodeError as exc:
            raise CommandError(f"{url}: {exc.detail}") from exc
        desk = Desk(api, key, Guard(), node_info=info)
        async with serve_desk(desk, port) as desk_url:
            print(f"banscan desk: open {desk_url}", flush=True)
            print("  (only this link opens the desk; stop it with Ctrl-C)", flush=True)
            with opener(desk_url) as start:
                if open_browser:
                    webbrowser.open(start)
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.Event().wait()
    finally:
        await api.close()
    return 0
