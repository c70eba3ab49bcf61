"""The ``banscan`` command line.

Exit status: 0 on success, 1 when a check found bad records or a command was
refused (``members`` on a node that is no steward), 2 when the command could
not run (bad arguments, configuration or data directory).

This module holds the root parser, the node's own commands (``init``, ``run``,
``status``, ``token``, ``rotate-key``, ``publish``) and :func:`main`; the other
groups register themselves from :mod:`node.cli.records`, :mod:`node.cli.network`,
:mod:`node.cli.backup`, :mod:`node.cli.submissions` and :mod:`node.cli.devnet`.
"""

import argparse
import asyncio
import datetime
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from node import __version__
from node.api.federation import peer_views
from node.cli.backup import BackupError
from node.cli.backup import add_commands as add_backup_commands
from node.cli.common import CommandError, CommandFailed, data_dir_of, open_store, usage
from node.cli.devnet import DevNetworkError
from node.cli.devnet import add_command as add_dev_network_command
from node.cli.moderators import add_moderator_commands
from node.cli.network import add_member_commands, add_peer_commands, print_peers
from node.cli.records import add_record_commands, add_verify_command
from node.cli.submissions import add_submission_commands
from node.config import DEFAULT_NETWORK, ConfigError
from node.datadir import DataDirError
from node.publishing import publish
from node.serve import serve
from protocol.envelope import AUDIENCES, NETWORK_ID_PATTERN
from protocol.errors import KeyFormatError, ProtocolError
from protocol.keys import key_text, parse_key_text
from protocol.kinds import KNOWN_KINDS
from storage import StorageError
from storage.tokens import Role


def main(argv: Sequence[str] | None = None) -> int:
    # Everything the node writes (database, WAL, bundles, keys) is for its owner only.
    os.umask(0o077)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (
        CommandError,
        ConfigError,
        DataDirError,
        StorageError,
        ProtocolError,
        BackupError,
        DevNetworkError,
    ) as exc:
        detail = getattr(exc, "detail", None) or str(exc)
        print(f"banscan: error: {detail}", file=sys.stderr)
        return 2
    except CommandFailed as exc:
        print(f"banscan: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="banscan",
        description="A node of the Ban the Scan network: signed, federated records of police "
        "facial recognition.",
    )
    parser.add_argument("--version", action="version", version=f"banscan {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(
        name: str,
        help_text: str,
        handler: Callable[[argparse.Namespace], int],
        parent: Any = commands,
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = parent.add_parser(
            name, help=help_text, description=help_text
        )
        sub.set_defaults(handler=handler)
        return sub

    def data_dir_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            metavar="DIR",
            help="the node's data directory (default: $BANSCAN_DATA_DIR, else "
            "$XDG_DATA_HOME/banscan, else ~/.local/share/banscan)",
        )

    init = command("init", "Create a node key and a configuration in a data directory.", cmd_init)
    data_dir_option(init)
    init.add_argument(
        "--network",
        default=DEFAULT_NETWORK,
        metavar="ID",
        help=f"network id bound into every signature (default: {DEFAULT_NETWORK})",
    )
    init.add_argument(
        "--steward",
        action="append",
        default=[],
        metavar="KEY",
        help="a steward's key (ed25519:...); repeat for several. With none, this "
        "node is its own steward",
    )

    run = command("run", "Serve the node until SIGTERM or SIGINT.", cmd_run)
    data_dir_option(run)
    run.add_argument("--host", help="address to listen on (default: [node] host)")
    run.add_argument(
        "--port", type=int, help="port to listen on; 0 picks a free one (default: [node] port)"
    )

    status = command("status", "Show the node's identity, records, feeds and forks.", cmd_status)
    data_dir_option(status)
    status.add_argument("--json", action="store_true", help="print JSON")

    token = command("token", "Manage API bearer tokens.", lambda _: usage(token))
    token_commands = token.add_subparsers(title="token commands", metavar="COMMAND")
    create = command(
        "create",
        "Create a token and print it (only the token) on stdout.",
        cmd_token_create,
        token_commands,
    )
    data_dir_option(create)
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--label", default="", help="a note on who or what holds the token")
    revoke = command(
        "revoke",
        "Revoke a token: read it from standard input, so it stays out of the shell history "
        "and the process list. It stops working at once, also on a running node.",
        cmd_token_revoke,
        token_commands,
    )
    data_dir_option(revoke)

    rotate = command(
        "rotate-key",
        "Give the node a new key (the node must be stopped); the old one is kept as "
        "node.key.retired-<time>. Then the steward admits the new key and suspends the old "
        "one: see docs/operators.md, Rotating a node key.",
        cmd_rotate_key,
    )
    data_dir_option(rotate)

    add_peer_commands(command, data_dir_option)

    pub = command(
        "publish", "Sign a JSON body as this node's next record; print its id.", cmd_publish
    )
    data_dir_option(pub)
    pub.add_argument("--kind", required=True, choices=KNOWN_KINDS)
    pub.add_argument("--audience", required=True, choices=AUDIENCES)
    pub.add_argument("file", metavar="FILE", help="JSON body, or - for standard input")

    add_record_commands(command, data_dir_option)
    add_member_commands(command, data_dir_option)
    add_verify_command(command)
    add_backup_commands(command, data_dir_option)
    add_moderator_commands(command, data_dir_option)
    add_submission_commands(command, data_dir_option)
    add_dev_network_command(command)
    return parser


def cmd_init(args: argparse.Namespace) -> int:
    if not NETWORK_ID_PATTERN.fullmatch(args.network):
        raise CommandError("--network must match [a-z0-9][a-z0-9._-]{0,62}")
    for steward in args.steward:
        try:
            parse_key_text(steward)
        except KeyFormatError as exc:
            raise CommandError(f"--steward {steward[:60]!r}: {exc.detail}") from exc
    data_dir = data_dir_of(args)
    key = data_dir.init(args.network, args.steward)
    print(f"created node in {data_dir.path} on network {args.network}")
    print(key.text)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    if args.data_dir is None and not data_dir.is_initialised():
        key = data_dir.init(DEFAULT_NETWORK, [])
        print(f"banscan: created a new node in {data_dir.path} (key {key.text})", flush=True)
    data_dir.load_config()
    data_dir.load_key()
    if args.port is not None and not 0 <= args.port <= 65535:
        raise CommandError("--port must be from 0 to 65535")
    asyncio.run(serve(data_dir, args.host, args.port))
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    async def create() -> int:
        store = await open_store(data_dir_of(args))
        try:
            print(await store.tokens.create(Role(args.role), args.label))
        finally:
            await store.close()
        return 0

    return asyncio.run(create())


def cmd_token_revoke(args: argparse.Namespace) -> int:
    token = sys.stdin.readline().strip()
    if not token:
        raise CommandError("give the token to revoke on standard input")

    async def revoke() -> int:
        store = await open_store(data_dir_of(args))
        try:
            revoked = await store.tokens.revoke(token)
        finally:
            await store.close()
        if not revoked:
            raise CommandError("no such token on this node")
        print("revoked")
        return 0

    return asyncio.run(revoke())


def cmd_publish(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    config = data_dir.load_config()
    key = data_dir.load_key()
    text = sys.stdin.read() if args.file == "-" else _read_text(Path(args.file))
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{args.file}: not valid JSON: {exc}") from exc

    async def run() -> int:
        store = await open_store(data_dir)
        try:
            record = await publish(
                store.records,
                key,
                network_id=config.network.id,
                limits=config.limits.limits(),
                kind=args.kind,
                audience=args.audience,
                body=body,
                clock=store.clock,
            )
        finally:
            await store.close()
        print(record.id.hex())
        return 0

    return asyncio.run(run())


def cmd_status(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    config = data_dir.load_config()
    key = data_dir.load_key()

    async def gather() -> dict[str, Any]:
        store = await open_store(data_dir)
        try:
            counts = await store.records.counts()
            feeds = await store.records.feeds()
            flagged = await store.records.flagged_origins()
            peers = await peer_views(store)
            quarantined, quarantine_bytes = await store.records.quarantine_totals()
        finally:
            await store.close()
        return {
            "key": key.text,
            "network_id": config.network.id,
            "data_dir": str(data_dir.path),
            "server": _probe(
                data_dir.running_url() or f"http://{config.node.host}:{config.node.port}"
            ),
            "records": [{"kind": k, "audience": a, "count": n} for k, a, n in counts],
            "feeds": [{"origin": key_text(o), "audience": a, "max_seq": s} for o, a, s in feeds],
            "flagged_origins": [key_text(o) for o in flagged],
            "peers": peers,
            "quarantine": {"records": quarantined, "bytes": quarantine_bytes},
        }

    status = asyncio.run(gather())
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    total = sum(item["count"] for item in status["records"])
    print(f"node      {status['key']}")
    print(f"network   {status['network_id']}")
    print(f"data dir  {status['data_dir']}")
    print(f"server    {status['server']}")
    print(f"records   {total}")
    for item in status["records"]:
        print(f"          {item['count']:>8}  {item['kind']:<12} {item['audience']}")
    print(f"feeds     {len(status['feeds'])}")
    flagged_list = status["flagged_origins"]
    print(
        f"forks     {len(flagged_list)} flagged origin(s)"
        + "".join(f"\n          {origin}" for origin in flagged_list)
    )
    held = status["quarantine"]
    print(
        f"quarantine {held['records']} record(s), {held['bytes']:,} bytes "
        "(waiting for their origins' admission)"
    )
    print(f"peers     {len(status['peers'])}")
    if status["peers"]:
        print_peers(status["peers"])
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    url = data_dir.running_url()
    if url is not None and _probe(url).startswith("running"):
        raise CommandError(f"the node is running at {url}; stop it before rotating its key")
    stamp = datetime.datetime.now(tz=datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        old, new, retired = data_dir.rotate_key(stamp)
    except DataDirError as exc:
        raise CommandError(str(exc)) from exc
    print(f"new key      {new.text}")
    print(f"old key      {old.text} (kept in {retired})")
    print("next: the steward runs")
    print(f"  banscan members admit {new.text} --role ROLE --name NAME")
    print(f"  banscan members suspend {old.text}")
    print("then start this node; peers that list it in [[peers]] need the new key.")
    return 0


def _probe(base_url: str) -> str:
    if not base_url.startswith(("http://", "https://")):
        return f"unknown ({base_url!r} is not an http URL)"
    try:
        # The scheme is checked just above: only http(s) reaches urlopen.
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:  # noqa: S310
            return f"running at {base_url} (health {response.status})"
    except urllib.error.HTTPError as exc:
        return f"running at {base_url} but unhealthy (health {exc.code})"
    except (urllib.error.URLError, OSError, ValueError):
        return f"not reachable at {base_url}"


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: {exc}") from exc
