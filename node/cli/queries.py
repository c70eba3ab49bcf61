"""``banscan query`` and ``stats``: current incidents and deployments, read with the
filters the API uses (:mod:`node.cli.filters`)."""

import argparse
import datetime
import json
from collections.abc import Callable
from typing import Any

from node.api.query import SORTS, group_view, parse_group_by, parse_sort
from node.api.records import stored_view
from node.auth import ALL_AUDIENCES
from node.cli.common import CommandError, data_dir_of, run_on_store, table
from node.cli.filters import add_filter_options, filtered, query_filter
from node.cli.registrar import Registrar
from node.params import KINDS
from node.problems import BadParameter
from storage.campaignstats import SECTIONS
from storage.queries import QueryRow
from storage.stats import GROUP_KEYS
from storage.store import Store

MAX_ROWS = 100_000
SECTION_NAMES = [section for section, _ in SECTIONS.values()]


def register(cli: Registrar) -> None:
    """Add ``query`` and ``stats``."""
    query = cli.command(
        "query",
        "Print current incidents or deployments matching filters.",
        cmd_query,
        data_dir=True,
    )
    query.add_argument("--kind", required=True, choices=KINDS, help="which records")
    add_filter_options(query)
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

    stats = cli.command(
        "stats",
        "Print counts, chapters and first and last dates, grouped.",
        cmd_stats,
        data_dir=True,
    )
    stats.add_argument(
        "--kind", default="incident", choices=KINDS, help="which records (default: incident)"
    )
    stats.add_argument(
        "--group-by",
        default="",
        metavar="KEYS",
        help=f"comma-separated keys: {', '.join(GROUP_KEYS)}",
    )
    add_filter_options(stats)
    stats.add_argument(
        "--campaign",
        action="store_true",
        help="count the campaign records instead (agencies, vendors, policies, records "
        "requests, actions), as GET /api/v1/stats/campaign; takes no filters",
    )
    stats.add_argument("--json", action="store_true", help="print JSON")


def cmd_query(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    where = query_filter(args)
    if not 1 <= args.limit <= MAX_ROWS:
        raise CommandError(f"--limit must be from 1 to {MAX_ROWS}")
    sort = parse_sort(args.sort)
    rows = run_on_store(data_dir, lambda store: store.queries.page(where, sort, None, args.limit))
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
    if args.campaign:
        return _campaign_stats(args)
    where = query_filter(args)
    try:
        group_by = parse_group_by(args.group_by)
    except BadParameter as exc:
        raise CommandError(f"--group-by: {exc.detail.removeprefix('group_by: ')}") from exc
    result = run_on_store(data_dir, lambda store: store.queries.stats(where, group_by))
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


def _campaign_stats(args: argparse.Namespace) -> int:
    """``banscan stats --campaign``: the counts of :mod:`storage.campaignstats`, over
    every audience, as a table of section, grouping, value and count, or as JSON."""
    if args.group_by or args.kind != "incident" or filtered(args):
        raise CommandError("--campaign takes no --kind, --group-by or filters")

    async def count(store: Store) -> dict[str, Any]:
        day = datetime.datetime.fromtimestamp(store.clock() / 1000, datetime.UTC).date()
        counts = await store.queries.campaign_stats(ALL_AUDIENCES, day.isoformat())
        return {"today": day.isoformat(), **counts, "audiences": list(ALL_AUDIENCES)}

    answer = run_on_store(data_dir_of(args), count)
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    rows: list[list[Any]] = []
    for section in SECTION_NAMES:
        for name, value in answer[section].items():
            if isinstance(value, dict):
                rows.extend([section, name, key, n] for key, n in value.items())
            else:
                rows.append([section, name, "", value])
    print(table(["records", "counted", "value", "count"], rows))
    return 0
