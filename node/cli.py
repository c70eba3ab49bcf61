"""The ``banscan`` command line.

Exit status: 0 on success, 1 when a check found bad records or a command was
refused (``members`` on a node that is no steward), 2 when the command could
not run (bad arguments, configuration or data directory).
"""

import argparse
import asyncio
import datetime
import json
import os
import sys
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from node import __version__
from node.api_query import SORTS, group_view, parse_group_by, parse_sort
from node.api_records import stored_view
from node.auth import ALL_AUDIENCES
from node.backup import BackupError
from node.backup import add_commands as add_backup_commands
from node.bundles import BundleReport, Progress, export_bundle, import_bundle, verify_bundle
from node.cli_common import (
    CommandError,
    CommandFailed,
    data_dir_of,
    open_store,
    table,
    usage,
)
from node.cli_submissions import add_submission_commands
from node.config import DEFAULT_NETWORK, LIMITS_CEILING, Config, ConfigError
from node.datadir import DataDirError
from node.devnet import DevNetworkError
from node.devnet import add_command as add_dev_network_command
from node.exports import EXPORT_KINDS, FORMATS, CurrentRecords, ExportFormat, export_chunks
from node.federation import peer_views
from node.membership import MembershipRefused, decide, member_views
from node.problems import BadParameter
from node.publishing import publish
from node.query_params import KINDS, parse_query_filter, parse_time_ms
from node.serve import serve
from protocol.envelope import AUDIENCES, NETWORK_ID_PATTERN
from protocol.errors import KeyFormatError, ProtocolError
from protocol.keys import key_text, parse_key_text
from protocol.kinds import KNOWN_KINDS
from protocol.records import VerifiedRecord
from storage import StorageError
from storage.ingest import Verifier
from storage.queries import GROUP_KEYS, QueryFilter, QueryRow, RecordQueries, Stats
from storage.records import RecordFilter
from storage.store import Store
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

    peers = command("peers", "Manage the peers this node syncs with.", lambda _: usage(peers))
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

    pub = command(
        "publish", "Sign a JSON body as this node's next record; print its id.", cmd_publish
    )
    data_dir_option(pub)
    pub.add_argument("--kind", required=True, choices=KNOWN_KINDS)
    pub.add_argument("--audience", required=True, choices=AUDIENCES)
    pub.add_argument("file", metavar="FILE", help="JSON body, or - for standard input")

    exp = command(
        "export",
        "Write the node's records to a signed-record bundle, or its current incidents or "
        "deployments to CSV, GeoJSON or NDJSON.",
        cmd_export,
    )
    data_dir_option(exp)
    exp.add_argument("--out", required=True, metavar="FILE", help="output file, or - for stdout")
    exp.add_argument(
        "--format",
        default="bundle",
        choices=list(FORMATS),
        help="bundle (default: whole feeds, unless filters are given), csv, geojson or ndjson "
        "(current records of one --kind)",
    )
    exp.add_argument(
        "--kind",
        action="append",
        default=[],
        help="only this kind (repeatable for a whole-feed bundle; exactly one of incident or "
        "deployment with --format csv, geojson or ndjson, or with filters)",
    )
    exp.add_argument(
        "--audience",
        action="append",
        default=[],
        choices=AUDIENCES,
        help="only this audience (repeatable)",
    )
    _filter_options(exp)

    imp = command("import", "Verify a signed-record bundle and store its records.", cmd_import)
    data_dir_option(imp)
    imp.add_argument("file", metavar="FILE", type=Path)

    query = command("query", "Print current incidents or deployments matching filters.", cmd_query)
    data_dir_option(query)
    query.add_argument("--kind", required=True, choices=KINDS, help="which records")
    _filter_options(query)
    query.add_argument(
        "--sort",
        default="-created",
        choices=SORTS,
        help="created or occurred; a leading - sorts descending (default: -created)",
    )
    query.add_argument(
        "--limit", type=int, default=100, help=f"at most this many records, 1 to {MAX_ROWS}"
    )
    query.add_argument("--json", action="store_true", help="print JSON")

    stats = command("stats", "Print counts, chapters and first and last dates, grouped.", cmd_stats)
    data_dir_option(stats)
    stats.add_argument(
        "--kind", default="incident", choices=KINDS, help="which records (default: incident)"
    )
    stats.add_argument(
        "--group-by",
        default="",
        metavar="KEYS",
        help=f"comma-separated keys: {', '.join(GROUP_KEYS)}",
    )
    _filter_options(stats)
    stats.add_argument("--json", action="store_true", help="print JSON")

    members = command(
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

    ver = command("verify", "Check a signed-record bundle offline, with no node.", cmd_verify)
    ver.add_argument("file", metavar="FILE", type=Path)
    ver.add_argument(
        "--network", metavar="ID", help="require this network id (default: the bundle's own)"
    )
    add_backup_commands(command, data_dir_option)
    add_submission_commands(command, data_dir_option)
    add_dev_network_command(command)
    return parser


# (option, query parameter, help) for the filters query and stats share with the API.
FILTER_OPTIONS = (
    ("--country", "country", "ISO 3166-1 alpha-2 codes, comma-separated"),
    ("--region", "region", "regions, comma-separated"),
    ("--city", "city", "cities, comma-separated"),
    ("--origin", "origin", "chapter keys (ed25519:...), comma-separated"),
    ("--category", "category", "incident categories, comma-separated"),
    ("--technology", "technology", "technology types, comma-separated"),
    ("--agency", "agency", "agency names (any case), comma-separated"),
    ("--status", "status", "verification or deployment statuses, comma-separated"),
    ("--occurred-from", "occurred_from", "occurred_on on or after YYYY-MM-DD"),
    ("--occurred-to", "occurred_to", "occurred_on on or before YYYY-MM-DD"),
    ("--created-from", "created_from", "created at or after: milliseconds or RFC 3339"),
    ("--created-to", "created_to", "created at or before: milliseconds or RFC 3339"),
    ("--area", "area", "incidents: a geohash prefix of 1 to 6 characters"),
    ("--bbox", "bbox", "deployments: min_lon,min_lat,max_lon,max_lat in degrees"),
    ("--text", "q", "incidents: words that must all occur in the summary"),
)
MAX_ROWS = 100_000


def _filter_options(sub: argparse.ArgumentParser) -> None:
    for option, parameter, help_text in FILTER_OPTIONS:
        sub.add_argument(option, dest=f"filter_{parameter}", metavar="VALUE", help=help_text)


def _query_filter(
    args: argparse.Namespace, kind: str | None = None, audiences: tuple[str, ...] = ALL_AUDIENCES
) -> QueryFilter:
    """The filter the options ask for, parsed exactly as the API parses its parameters.

    The operator reads their own database, so every audience by default."""
    options = {parameter: option for option, parameter, _ in FILTER_OPTIONS}
    mapping = {
        parameter: value
        for parameter in options
        if (value := getattr(args, f"filter_{parameter}")) is not None
    }
    try:
        return parse_query_filter(mapping, kind or args.kind, audiences)
    except BadParameter as exc:
        name = exc.extensions["parameter"]
        detail = exc.detail.removeprefix(f"{name}: ")
        raise CommandError(f"{options.get(name, '--' + name)}: {detail}") from exc


def _run_async(coro: Coroutine[Any, Any, int]) -> int:
    return asyncio.run(coro)


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

    return _run_async(create())


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

    return _run_async(revoke())


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

    return _run_async(run())


def cmd_export(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    config = data_dir.load_config()
    data_dir.load_key()
    filtered = any(getattr(args, f"filter_{p}") is not None for _, p, _ in FILTER_OPTIONS)
    whole_feeds = args.format == "bundle" and not filtered
    query: QueryFilter | None = None
    if not whole_feeds:
        if len(args.kind) != 1 or args.kind[0] not in EXPORT_KINDS:
            raise CommandError(
                "--format csv, geojson or ndjson, and filters, need one --kind: "
                + " or ".join(EXPORT_KINDS)
            )
        query = _query_filter(args, args.kind[0], tuple(args.audience) or ALL_AUDIENCES)

    async def run(out: BinaryIO) -> Counter[str]:
        store = await open_store(data_dir)
        try:
            if query is None:
                where = RecordFilter(kinds=tuple(args.kind), audiences=tuple(args.audience))
                return await export_bundle(store, config.network.id, out, where)
            return await _export_current(store, query, FORMATS[args.format], out, config)
        finally:
            await store.close()

    if args.out == "-":
        audiences = asyncio.run(run(sys.stdout.buffer))
    else:
        # Written aside and renamed, so an interrupted export never looks complete.
        partial = Path(args.out + ".partial")
        try:
            with partial.open("wb") as out:
                audiences = asyncio.run(run(out))
            partial.replace(args.out)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    print(f"exported {audiences.total()} records to {args.out}", file=sys.stderr)
    private = audiences.total() - audiences["public"]
    if private:
        print(
            f"note: {private} of them are network or coordinators records; share the file "
            "only with members (--audience public exports public records only)",
            file=sys.stderr,
        )
    return 0


async def _export_current(
    store: Store, query: QueryFilter, export_format: ExportFormat, out: BinaryIO, config: Config
) -> Counter[str]:
    """Current records of one kind in ``export_format``, as the export route writes them."""
    source = CurrentRecords(RecordQueries(store.db), query)
    chunks = export_chunks(
        export_format, source, network_id=config.network.id, created_ms=store.clock()
    )
    progress = Progress("exported", None)
    async for chunk in chunks:
        out.write(chunk)
        progress.update(source.audiences.total())
    progress.update(source.audiences.total(), final=True)
    return source.audiences


def cmd_import(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    config = data_dir.load_config()
    data_dir.load_key()
    if not args.file.is_file():
        raise CommandError(f"{args.file}: no such file")

    async def run() -> BundleReport:
        store = await open_store(data_dir)
        verifier = Verifier(config.network.id, config.limits.limits(), config.node.verify_threads)
        try:
            return await import_bundle(store, verifier, args.file)
        finally:
            verifier.close()
            await store.close()

    report = asyncio.run(run())
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(report.outcomes.items()))
    print(f"imported {args.file}: {counts or 'no records'}")
    return _print_problems(report)


def cmd_verify(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise CommandError(f"{args.file}: no such file")
    report = verify_bundle(args.file, LIMITS_CEILING, args.network)
    good = report.checked - sum(1 for ref, _ in report.bad if not ref.startswith("#"))
    print(
        f"{args.file}: {report.checked} records checked, {good} good, {len(report.bad)} bad "
        f"(network {report.network_id or 'unknown'})"
    )
    return _print_problems(report)


def _print_problems(report: BundleReport) -> int:
    for ref, reason in report.bad:
        print(f"bad record {ref}: {reason}")
    if report.fatal is not None:
        print(f"bundle failed: {report.fatal}")
    return 0 if report.ok else 1


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
        _print_peers(status["peers"])
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

    return _run_async(add())


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

    return _run_async(remove())


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
    _print_peers(views)
    return 0


def _print_peers(views: Sequence[Mapping[str, Any]]) -> None:
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


def cmd_query(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    where = _query_filter(args)
    if not 1 <= args.limit <= MAX_ROWS:
        raise CommandError(f"--limit must be from 1 to {MAX_ROWS}")
    sort = parse_sort(args.sort)

    async def run() -> list[QueryRow]:
        store = await open_store(data_dir)
        try:
            return await RecordQueries(store.db).page(where, sort, None, args.limit)
        finally:
            await store.close()

    rows = asyncio.run(run())
    if args.json:
        records = [stored_view(row.record) for row in rows]
        print(json.dumps({"records": records, "audiences": list(where.audiences)}, indent=2))
        return 0
    columns = _INCIDENT_COLUMNS if args.kind == "incident" else _DEPLOYMENT_COLUMNS
    headers = [name for name, _ in columns]
    cells = [[value(row) for _, value in columns] for row in rows]
    print(table(headers, cells))
    print(
        f"{len(rows)} {args.kind} record(s)"
        + (" (--limit reached)" if len(rows) == args.limit else "")
    )
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    where = _query_filter(args)
    try:
        group_by = parse_group_by(args.group_by)
    except BadParameter as exc:
        raise CommandError(f"--group-by: {exc.detail.removeprefix('group_by: ')}") from exc

    async def run() -> Stats:
        store = await open_store(data_dir)
        try:
            return await RecordQueries(store.db).stats(where, group_by)
        finally:
            await store.close()

    result = asyncio.run(run())
    measures = ("count", "chapters", "first", "last")
    groups = [group_view(g) for g in result.groups]
    total = group_view(result.total)
    if args.json:
        answer = {
            "kind": where.kind,
            "group_by": list(group_by),
            "groups": groups,
            "total": total,
            "audiences": list(where.audiences),
        }
        print(json.dumps(answer, indent=2))
        return 0
    headers = [*group_by, *measures]
    rows = [[g[h] for h in headers] for g in groups]
    if group_by:
        rows.append(["total", *([""] * (len(group_by) - 1)), *(total[m] for m in measures)])
    else:
        rows.append([total[m] for m in measures])
    print(table(headers, rows))
    return 0


_INCIDENT_COLUMNS: tuple[tuple[str, Callable[[QueryRow], Any]], ...] = (
    ("id", lambda row: row.record.id.hex()[:12]),
    ("occurred", lambda row: row.occurred_on),
    ("country", lambda row: row.country),
    ("region", lambda row: row.region),
    ("city", lambda row: row.city),
    ("category", lambda row: row.category),
    ("technology", lambda row: row.technology),
    ("agency", lambda row: row.agency),
    ("status", lambda row: row.status),
)
_DEPLOYMENT_COLUMNS: tuple[tuple[str, Callable[[QueryRow], Any]], ...] = (
    ("id", lambda row: row.record.id.hex()[:12]),
    ("observed", lambda row: row.occurred_on),
    ("country", lambda row: row.country),
    ("city", lambda row: row.city),
    ("operator", lambda row: row.agency),
    ("status", lambda row: row.status),
    ("lat", lambda row: _degrees(row.lat_e7)),
    ("lon", lambda row: _degrees(row.lon_e7)),
)


def _degrees(e7: int | None) -> str | None:
    if e7 is None:
        return None
    sign = "-" if e7 < 0 else ""
    return f"{sign}{abs(e7) // 10_000_000}.{abs(e7) % 10_000_000:07d}"


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
    if ms is None:
        return None
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


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


if __name__ == "__main__":
    sys.exit(main())
