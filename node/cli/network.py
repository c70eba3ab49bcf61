"""``banscan peers`` and ``banscan members``: whom this node syncs with, and who belongs.

``peers`` edits the node's own peer list; ``members`` publishes a steward's
membership decisions (admit, suspend, revoke) as signed records, through
:func:`node.membership.decide`, and lists the membership state.
"""

import argparse
import asyncio
import datetime
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from node.api.federation import peer_views
from node.api.params import parse_time_ms
from node.cli.common import (
    CommandAdder,
    CommandError,
    CommandFailed,
    data_dir_of,
    open_store,
    table,
    usage,
)
from node.membership import MembershipRefused, decide, member_views
from node.problems import BadParameter
from protocol.errors import KeyFormatError, ProtocolError
from protocol.keys import key_text, parse_key_text
from protocol.records import VerifiedRecord
from protocol.utc import utc_text


def add_peer_commands(
    command: CommandAdder, data_dir_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Register ``peers add|remove|list`` with the CLI's parser."""
    peers: argparse.ArgumentParser = command(
        "peers", "Manage the peers this node syncs with.", lambda _: usage(peers)
    )
    peer_commands = peers.add_subparsers(title="peers commands", metavar="COMMAND")
    peers_add = command(
        "add",
        "Add a peer (or change its URL). A running node uses it from its next sync round.",
        cmd_peers_add,
        peer_commands,
    )
    data_dir_option(peers_add)
    peers_add.add_argument("url", metavar="URL", help="where the peer serves, e.g. https://...")
    peers_add.add_argument("key", metavar="KEY", help="the peer's node key (ed25519:...)")
    peers_remove = command("remove", "Forget a peer.", cmd_peers_remove, peer_commands)
    data_dir_option(peers_remove)
    peers_remove.add_argument("key", metavar="KEY", help="the peer's node key (ed25519:...)")
    peers_list = command(
        "list",
        "List peers: last success, failures, backoff and how far behind each feed is.",
        cmd_peers_list,
        peer_commands,
    )
    data_dir_option(peers_list)
    peers_list.add_argument("--json", action="store_true", help="print JSON")


def add_member_commands(
    command: CommandAdder, data_dir_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Register ``members admit|suspend|revoke|list`` with the CLI's parser."""
    members: argparse.ArgumentParser = command(
        "members",
        "Stewards: admit, suspend and revoke member keys; list the membership state.",
        lambda _: usage(members),
    )
    member_commands = members.add_subparsers(title="members commands", metavar="COMMAND")
    admit = command(
        "admit",
        "Admit KEY as a member: publish a membership record signed by this steward node.",
        cmd_members_admit,
        member_commands,
    )
    data_dir_option(admit)
    admit.add_argument("key", metavar="KEY", help="the member's node key (ed25519:...)")
    admit.add_argument(
        "--role",
        required=True,
        choices=("chapter", "coordinator"),
        help="chapter (receives network records) or coordinator (also coordinators records)",
    )
    admit.add_argument("--name", required=True, help="the chapter's or coordinator's name")
    admit.add_argument("--city", help="where it is based")
    admit.add_argument("--country", metavar="CC", help="ISO 3166-1 alpha-2 country code")
    suspend = command(
        "suspend",
        "Suspend KEY: records it creates from now on are refused (earlier ones stay).",
        cmd_members_suspend,
        member_commands,
    )
    data_dir_option(suspend)
    suspend.add_argument("key", metavar="KEY", help="the member's node key (ed25519:...)")
    revoke = command(
        "revoke",
        "Revoke KEY as compromised: its records created since TIME are withdrawn everywhere "
        "and refused from now on.",
        cmd_members_revoke,
        member_commands,
    )
    data_dir_option(revoke)
    revoke.add_argument("key", metavar="KEY", help="the member's node key (ed25519:...)")
    revoke.add_argument(
        "--compromised-since",
        required=True,
        metavar="TIME",
        help="since when the key is not trusted: milliseconds since the epoch, an ISO 8601 "
        "date (midnight UTC) or a date and time with a zone",
    )
    members_list = command(
        "list",
        "Print the stewards and every key a steward decided on, with role and state.",
        cmd_members_list,
        member_commands,
    )
    data_dir_option(members_list)
    members_list.add_argument("--json", action="store_true", help="print JSON")


def cmd_peers_add(args: argparse.Namespace) -> int:
    url = args.url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CommandError(f"URL must start with http:// or https://, not {args.url!r}")
    key = _peer_key(args.key)

    async def add() -> int:
        store = await open_store(data_dir_of(args))
        try:
            await store.peers.add(key, url, "cli", store.clock())
        finally:
            await store.close()
        print(f"peer {key_text(key)} at {url}")
        return 0

    return asyncio.run(add())


def cmd_peers_remove(args: argparse.Namespace) -> int:
    key = _peer_key(args.key)

    async def remove() -> int:
        store = await open_store(data_dir_of(args))
        try:
            removed = await store.peers.remove(key)
        finally:
            await store.close()
        if not removed:
            raise CommandError(f"{key_text(key)} is not a peer of this node")
        return 0

    return asyncio.run(remove())


def cmd_peers_list(args: argparse.Namespace) -> int:
    async def gather() -> list[dict[str, Any]]:
        store = await open_store(data_dir_of(args))
        try:
            return await peer_views(store)
        finally:
            await store.close()

    views = asyncio.run(gather())
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


def cmd_members_admit(args: argparse.Namespace) -> int:
    return _decide(args, "admit")


def cmd_members_suspend(args: argparse.Namespace) -> int:
    return _decide(args, "suspend")


def cmd_members_revoke(args: argparse.Namespace) -> int:
    return _decide(args, "revoke")


def _decide(args: argparse.Namespace, action: str) -> int:
    """Publish this steward node's membership decision about KEY; print the record id."""
    data_dir = data_dir_of(args)
    config = data_dir.load_config()
    key = data_dir.load_key()
    try:
        subject = parse_key_text(args.key)
    except KeyFormatError as exc:
        raise CommandError(f"KEY {args.key[:60]!r}: {exc.detail}") from exc
    since = _time_ms("--compromised-since", args.compromised_since) if action == "revoke" else None

    async def run() -> VerifiedRecord:
        store = await open_store(data_dir)
        try:
            return await decide(
                store,
                key,
                subject,
                action,
                network_id=config.network.id,
                limits=config.limits.limits(),
                role=getattr(args, "role", None),
                name=getattr(args, "name", None),
                city=getattr(args, "city", None),
                country=getattr(args, "country", None),
                compromised_since_ms=since,
            )
        finally:
            await store.close()

    try:
        record = asyncio.run(run())
    except MembershipRefused as exc:
        raise CommandFailed(str(exc)) from exc
    print(record.id.hex())
    return 0


def _time_ms(option: str, text: str) -> int:
    """Milliseconds since the epoch, an RFC 3339 date-time, or a date (midnight UTC)."""
    try:
        moment = parse_time_ms(option, text)
    except BadParameter as exc:
        try:
            day = datetime.date.fromisoformat(text)
        except ValueError:
            raise CommandError(exc.detail) from exc
        moment = parse_time_ms(option, f"{day.isoformat()}T00:00:00+00:00")
    assert moment is not None
    return moment


def cmd_members_list(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)

    async def run() -> list[dict[str, Any]]:
        store = await open_store(data_dir)
        try:
            return member_views(store.trust)
        finally:
            await store.close()

    views = asyncio.run(run())
    if args.json:
        print(json.dumps({"members": views}, indent=2))
        return 0
    headers = ["key", "role", "state", "name", "city", "country", "since"]
    rows = [[*(v[h] for h in headers[:-1]), _utc(v["since_ms"])] for v in views]
    print(table(headers, rows))
    return 0


def _utc(ms: int | None) -> str | None:
    return None if ms is None else utc_text(ms)
