"""``banscan export``, ``import``, ``verify``, ``query`` and ``stats``: the node's records.

Bundles go out and come in through :mod:`node.exports.bundles`; ``query`` and ``stats``
read current incidents and deployments with the filters the API uses, parsed by
:mod:`node.api.params`, so the command line and the API always agree.
"""

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from federation.verifier import Verifier
from node.api.params import KINDS, parse_query_filter
from node.api.query import SORTS, group_view, parse_group_by, parse_sort
from node.api.records import stored_view
from node.auth import ALL_AUDIENCES
from node.cli.common import CommandAdder, CommandError, data_dir_of, open_store, table
from node.config import LIMITS_CEILING, Config
from node.exports.bundles import BundleReport, Progress, export_bundle, import_bundle, verify_bundle
from node.exports.formats import EXPORT_KINDS, FORMATS, CurrentRecords, ExportFormat, export_chunks
from node.problems import BadParameter
from protocol.envelope import AUDIENCES
from storage.queries import GROUP_KEYS, QueryFilter, QueryRow, Stats
from storage.records import RecordFilter
from storage.store import Store


def add_record_commands(
    command: CommandAdder, data_dir_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Register ``export``, ``import``, ``query`` and ``stats`` with the CLI's parser."""
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


def add_verify_command(command: CommandAdder) -> None:
    """Register ``verify``, which needs no data directory, with the CLI's parser."""
    ver = command("verify", "Check a signed-record bundle offline, with no node.", cmd_verify)
    ver.add_argument("file", metavar="FILE", type=Path)
    ver.add_argument(
        "--network", metavar="ID", help="require this network id (default: the bundle's own)"
    )


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
    source = CurrentRecords(store.queries, query)
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


def cmd_query(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    where = _query_filter(args)
    if not 1 <= args.limit <= MAX_ROWS:
        raise CommandError(f"--limit must be from 1 to {MAX_ROWS}")
    sort = parse_sort(args.sort)

    async def run() -> list[QueryRow]:
        store = await open_store(data_dir)
        try:
            return await store.queries.page(where, sort, None, args.limit)
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
            return await store.queries.stats(where, group_by)
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
