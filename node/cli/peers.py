"""``banscan peers``: the node's own list of the peers it syncs with."""

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import Any

from node.api.federation import peer_views
from node.cli.common import CommandError, data_dir_of, run_on_store, table
from node.cli.registrar import Registrar
from protocol.errors import ProtocolError
from protocol.keys import key_text, parse_key_text


def register(cli: Registrar) -> None:
    """Add ``peers add|remove|list``."""
    peers = cli.group("peers", "Manage the peers this node syncs with.")
    add = peers.command(
        "add",
        "Add a peer (or change its URL). A running node uses it from its next sync round.",
        cmd_peers_add,
        data_dir=True,
    )
    add.add_argument("url", metavar="URL", help="where the peer serves, e.g. https://...")
    add.add_argument("key", metavar="KEY", help="the peer's node key (ed25519:...)")
    remove = peers.command("remove", "Forget a peer.", cmd_peers_remove, data_dir=True)
    remove.add_argument("key", metavar="KEY", help="the peer's node key (ed25519:...)")
    listed = peers.command(
        "list",
        "List peers: last success, failures, backoff and how far behind each feed is.",
        cmd_peers_list,
        data_dir=True,
    )
    listed.add_argument("--json", action="store_true", help="print JSON")


def cmd_peers_add(args: argparse.Namespace) -> int:
    url = args.url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CommandError(f"URL must start with http:// or https://, not {args.url!r}")
    key = _peer_key(args.key)
    run_on_store(data_dir_of(args), lambda store: store.peers.add(key, url, "cli", store.clock()))
    print(f"peer {key_text(key)} at {url}")
    return 0


def cmd_peers_remove(args: argparse.Namespace) -> int:
    key = _peer_key(args.key)
    if not run_on_store(data_dir_of(args), lambda store: store.peers.remove(key)):
        raise CommandError(f"{key_text(key)} is not a peer of this node")
    return 0


def cmd_peers_list(args: argparse.Namespace) -> int:
    views = run_on_store(data_dir_of(args), peer_views)
    if args.json:
        print(json.dumps(views, indent=2))
        return 0
    print_peers(views)
    return 0


def print_peers(views: Sequence[Mapping[str, Any]]) -> None:
    """Peers as a table, then each one's last error; ``status`` prints them too."""
    if not views:
        print("no peers (add one with: banscan peers add URL KEY)")
        return
    rows = [
        (
            view["key"],
            view["url"],
            view["role"] or "-",
            view["last_success"] or "never",
            str(view["failures"]),
            view["backoff_until"] or "-",
            str(view["behind_records"]),
        )
        for view in views
    ]
    print(
        table(("key", "url", "role", "last success", "failures", "backoff until", "behind"), rows)
    )
    for view in views:
        if view["last_error"]:
            print(f"{view['key']}: last error: {view['last_error']}")


def _peer_key(text: str) -> bytes:
    try:
        return parse_key_text(text)
    except ProtocolError as exc:
        raise CommandError(f"KEY: {exc.detail}") from exc
