"""``banscan members``: a steward's membership decisions and the membership state.

``admit``, ``suspend`` and ``revoke`` publish a decision as a signed record,
through :func:`node.membership.decide`; ``list`` prints who belongs.
"""

import argparse
import datetime
import json
from collections.abc import Awaitable
from typing import Any

from node.cli.common import (
    CommandError,
    CommandFailed,
    data_dir_of,
    run_on_store,
    table,
)
from node.cli.registrar import Registrar
from node.membership import MembershipRefused, decide, member_views
from node.params import parse_time_ms
from node.problems import BadParameter
from protocol.errors import KeyFormatError
from protocol.keys import parse_key_text
from protocol.records import VerifiedRecord
from protocol.utc import utc_text
from storage.store import Store


def register(cli: Registrar) -> None:
    """Add ``members admit|suspend|revoke|list``."""
    members = cli.group(
        "members", "Stewards: admit, suspend and revoke member keys; list the membership state."
    )
    admit = members.command(
        "admit",
        "Admit KEY as a member: publish a membership record signed by this steward node.",
        cmd_members_admit,
        data_dir=True,
    )
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
    suspend = members.command(
        "suspend",
        "Suspend KEY: records it creates from now on are refused (earlier ones stay).",
        cmd_members_suspend,
        data_dir=True,
    )
    suspend.add_argument("key", metavar="KEY", help="the member's node key (ed25519:...)")
    revoke = members.command(
        "revoke",
        "Revoke KEY as compromised: its records created since TIME are withdrawn everywhere "
        "and refused from now on.",
        cmd_members_revoke,
        data_dir=True,
    )
    revoke.add_argument("key", metavar="KEY", help="the member's node key (ed25519:...)")
    revoke.add_argument(
        "--compromised-since",
        required=True,
        metavar="TIME",
        help="since when the key is not trusted: milliseconds since the epoch, an ISO 8601 "
        "date (midnight UTC) or a date and time with a zone",
    )
    listed = members.command(
        "list",
        "Print the stewards and every key a steward decided on, with role and state.",
        cmd_members_list,
        data_dir=True,
    )
    listed.add_argument("--json", action="store_true", help="print JSON")


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

    def run(store: Store) -> Awaitable[VerifiedRecord]:
        return decide(
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

    try:
        record = run_on_store(data_dir, run)
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
    async def views(store: Store) -> list[dict[str, Any]]:
        return member_views(store.trust)

    listed = run_on_store(data_dir_of(args), views)
    if args.json:
        print(json.dumps({"members": listed}, indent=2))
        return 0
    headers = ["key", "role", "state", "name", "city", "country", "since"]
    rows = [[*(v[h] for h in headers[:-1]), _utc(v["since_ms"])] for v in listed]
    print(table(headers, rows))
    return 0


def _utc(ms: int | None) -> str | None:
    return None if ms is None else utc_text(ms)
