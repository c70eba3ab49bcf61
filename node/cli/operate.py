"""``banscan init``, ``run``, ``status``, ``token`` and ``rotate-key``: setting up,
running and looking after this node."""

import argparse
import asyncio
import json
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from node.cli.common import CommandError, data_dir_of, run_on_store
from node.cli.peers import print_peers
from node.cli.registrar import Registrar
from node.config import DEFAULT_NETWORK, Config
from node.datadir import DataDir, DataDirError
from protocol.envelope import NETWORK_ID_PATTERN
from protocol.errors import KeyFormatError
from protocol.keys import key_text, parse_key_text
from protocol.utc import utc_text
from storage.store import Store
from storage.tokens import Role


def register(cli: Registrar) -> None:
    """Add ``init``, ``run``, ``status``, ``token`` and ``rotate-key``."""
    init = cli.command(
        "init",
        "Create a node key and a configuration in a data directory.",
        cmd_init,
        data_dir=True,
    )
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

    run = cli.command("run", "Serve the node until SIGTERM or SIGINT.", cmd_run, data_dir=True)
    run.add_argument("--host", help="address to listen on (default: [node] host)")
    run.add_argument(
        "--port", type=int, help="port to listen on; 0 picks a free one (default: [node] port)"
    )

    status = cli.command(
        "status", "Show the node's identity, records, feeds and forks.", cmd_status, data_dir=True
    )
    status.add_argument("--json", action="store_true", help="print JSON")

    tokens = cli.group("token", "Manage API bearer tokens.")
    create = tokens.command(
        "create",
        "Create a token and print it (only the token) on stdout.",
        cmd_token_create,
        data_dir=True,
    )
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--label", default="", help="a note on who or what holds the token")
    tokens.command(
        "revoke",
        "Revoke a token: read it from standard input, so it stays out of the shell history "
        "and the process list. It stops working at once, also on a running node.",
        cmd_token_revoke,
        data_dir=True,
    )

    cli.command(
        "rotate-key",
        "Give the node a new key (the node must be stopped); the old one is kept as "
        "node.key.retired-<time>. Then the steward admits the new key and suspends the old "
        "one: see docs/operators.md, Rotating a node key.",
        cmd_rotate_key,
        data_dir=True,
    )


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
    from node.serve import serve  # the web server: only this command needs it (see node.cli)

    asyncio.run(serve(data_dir, args.host, args.port))
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    print(run_on_store(data_dir_of(args), lambda s: s.tokens.create(Role(args.role), args.label)))
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    token = sys.stdin.readline().strip()
    if not token:
        raise CommandError("give the token to revoke on standard input")
    if not run_on_store(data_dir_of(args), lambda store: store.tokens.revoke(token)):
        raise CommandError("no such token on this node")
    print("revoked")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    status = _status(data_dir_of(args))
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


def _status(data_dir: DataDir) -> dict[str, Any]:
    """What ``status --json`` prints."""
    config = data_dir.load_config()
    key = data_dir.load_key()

    from node.api.federation import peer_views  # the API's view (see node.cli)

    async def gather(store: Store) -> dict[str, Any]:
        counts = await store.records.counts()
        feeds = await store.records.feeds()
        flagged = await store.records.flagged_origins()
        peers = await peer_views(store)
        quarantined, quarantine_bytes = await store.records.quarantine_totals()
        return {
            "key": key.text,
            "network_id": config.network.id,
            "data_dir": str(data_dir.path),
            "server": "",
            "records": [{"kind": k, "audience": a, "count": n} for k, a, n in counts],
            "feeds": [{"origin": key_text(o), "audience": a, "max_seq": s} for o, a, s in feeds],
            "flagged_origins": [key_text(o) for o in flagged],
            "peers": peers,
            "quarantine": {"records": quarantined, "bytes": quarantine_bytes},
        }

    status = run_on_store(data_dir, gather)
    # Probed once the store is closed, so a slow answer holds no database open.
    status["server"] = server_state(data_dir, config, key.text)
    return status


def cmd_rotate_key(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    pid = data_dir.lock_holder()
    if pid is not None:
        running = f"running (pid {pid})" if pid else "running"
        raise CommandError(f"the node is {running}; stop it before rotating its key")
    lock = data_dir.lock()  # so that no banscan run starts meanwhile
    try:
        stamp = utc_text(time.time_ns() // 1_000_000, "basic")
        try:
            old, new, retired = data_dir.rotate_key(stamp)
        except DataDirError as exc:
            raise CommandError(str(exc)) from exc
    finally:
        lock.release()
    print(f"new key      {new.text}")
    print(f"old key      {old.text} (kept in {retired})")
    print("next: the steward runs")
    print(f"  banscan members admit {new.text} --role ROLE --name NAME")
    print(f"  banscan members suspend {old.text}")
    print("then start this node; peers that list it in [[peers]] need the new key.")
    return 0


def server_state(data_dir: DataDir, config: Config, key_text: str) -> str:
    """Whether this data directory's node is serving, in words.

    "running" only when a ``banscan run`` holds the data directory (its lock) and
    the node that answers at its URL has this directory's key: another program, or
    another node, on the configured port is named as such, never taken for this one."""
    pid = data_dir.lock_holder()
    url = (data_dir.running_url() if pid is not None else None) or (
        f"http://{_url_host(config.node.host)}:{config.node.port}"
    )
    answer = _ask(url)
    pid_text = f"pid {pid}" if pid else "pid unknown"
    if pid is not None:
        if answer.key == key_text:
            unhealthy = "" if answer.health == "200" else " but unhealthy"
            return f"running at {url}{unhealthy} (health {answer.health}, {pid_text})"
        if answer.key is None and not answer.reached:
            return f"starting ({pid_text}): nothing answers at {url} yet"
        return f"started ({pid_text}), but {answer.who} answers at {url}"
    if not answer.reached:
        return f"not running (nothing answers at {url})"
    if answer.key == key_text:
        return (
            f"not running from this data directory, but a node with its key answers at {url} "
            "(a copy of this directory? never serve one key from two places)"
        )
    return (
        f"not running; {answer.who} answers at {url}, the address this node would take: "
        "stop it, or start this node with banscan run --port PORT"
    )


@dataclass(frozen=True)
class _Answer:
    reached: bool
    key: str | None  # the node key /api/v1/node gave, if it did
    health: str  # /healthz's status code, or why there is none

    @property
    def who(self) -> str:
        if self.key is not None:
            return f"another node ({self.key})"
        return "another program (not a banscan node)"


def _ask(base_url: str) -> _Answer:
    """What answers at ``base_url``: its node key (``/api/v1/node``) and its health."""
    if not base_url.startswith(("http://", "https://")):
        return _Answer(False, None, f"{base_url!r} is not an http URL")
    try:
        # The scheme is checked just above: only http(s) reaches urlopen.
        with urllib.request.urlopen(f"{base_url}/api/v1/node", timeout=2) as response:  # noqa: S310
            text = response.read(65536)
    except urllib.error.HTTPError:
        text = b""
    except (urllib.error.URLError, OSError, ValueError):
        return _Answer(False, None, "unreachable")
    try:
        info = json.loads(text)
    except ValueError:
        info = None
    key = info.get("key") if isinstance(info, dict) else None
    key = key if isinstance(key, str) else None
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:  # noqa: S310
            health = str(response.status)
    except urllib.error.HTTPError as exc:
        health = str(exc.code)
    except (urllib.error.URLError, OSError, ValueError):
        health = "unreachable"
    return _Answer(True, key, health)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
