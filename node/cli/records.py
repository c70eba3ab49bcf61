"""``banscan publish``, ``export`` and ``import``: records in and out of the node.

``publish`` signs a record as this node; bundles go out and come in through
:mod:`node.exports.bundles`, and the current incidents or deployments go out as
CSV, GeoJSON or NDJSON through :mod:`node.exports.formats`, as the API's export
route writes them.
"""

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from federation.verifier import Verifier
from node.auth import ALL_AUDIENCES
from node.cli.common import CommandError, data_dir_of, opened_store, run_on_store
from node.cli.filters import add_filter_options, filtered, query_filter
from node.cli.registrar import Registrar
from node.config import Config
from node.datadir import DataDir
from node.deadlines import deadline_table
from node.exports.bundles import BundleReport, Progress, export_bundle, import_bundle
from node.exports.formats import EXPORT_KINDS, FORMATS, CurrentRecords, ExportFormat, export_chunks
from node.publishing import publish
from protocol.envelope import AUDIENCES
from protocol.kinds import KNOWN_KINDS
from storage.filters import QueryFilter
from storage.store import Store
from storage.stored import RecordFilter


def register_publish(cli: Registrar) -> None:
    """Add ``publish``."""
    pub = cli.command(
        "publish",
        "Sign a JSON body as this node's next record; print its id.",
        cmd_publish,
        data_dir=True,
    )
    pub.add_argument("--kind", required=True, choices=KNOWN_KINDS)
    pub.add_argument("--audience", required=True, choices=AUDIENCES)
    pub.add_argument("file", metavar="FILE", help="JSON body, or - for standard input")


def register(cli: Registrar) -> None:
    """Add ``export`` and ``import``."""
    exp = cli.command(
        "export",
        "Write the node's records to a signed-record bundle, or its current incidents or "
        "deployments to CSV, GeoJSON or NDJSON.",
        cmd_export,
        data_dir=True,
    )
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
    add_filter_options(exp)

    imp = cli.command(
        "import", "Verify a signed-record bundle and store its records.", cmd_import, data_dir=True
    )
    imp.add_argument("file", metavar="FILE", type=Path)


def cmd_publish(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    config = data_dir.load_config()
    key = data_dir.load_key()
    text = sys.stdin.read() if args.file == "-" else _read_text(Path(args.file))
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{args.file}: not valid JSON: {exc}") from exc
    record = run_on_store(
        data_dir,
        lambda store: publish(
            store.records,
            key,
            network_id=config.network.id,
            limits=config.limits.limits(),
            kind=args.kind,
            audience=args.audience,
            body=body,
            clock=store.clock,
            deadlines=deadline_table(config.deadlines),
        ),
    )
    print(record.id.hex())
    return 0


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: {exc}") from exc


def cmd_export(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    config = data_dir.load_config()
    data_dir.load_key()
    query: QueryFilter | None = None
    if args.format != "bundle" or filtered(args):
        if len(args.kind) != 1 or args.kind[0] not in EXPORT_KINDS:
            raise CommandError(
                "--format csv, geojson or ndjson, and filters, need one --kind: "
                + " or ".join(EXPORT_KINDS)
            )
        query = query_filter(args, args.kind[0], tuple(args.audience) or ALL_AUDIENCES)

    async def run(out: BinaryIO) -> Counter[str]:
        async with opened_store(data_dir) as store:
            if query is None:
                where = RecordFilter(kinds=tuple(args.kind), audiences=tuple(args.audience))
                return await export_bundle(store, config.network.id, out, where)
            return await _export_current(store, query, FORMATS[args.format], out, config)

    audiences = _write_out(args.out, lambda out: asyncio.run(run(out)))
    print(f"exported {audiences.total()} records to {args.out}", file=sys.stderr)
    private = audiences.total() - audiences["public"]
    if private:
        print(
            f"note: {private} of them are network or coordinators records; share the file "
            "only with members (--audience public exports public records only)",
            file=sys.stderr,
        )
    return 0


def _write_out(name: str, write: Callable[[BinaryIO], Counter[str]]) -> Counter[str]:
    """Run ``write`` on standard output (``-``) or on file ``name``: whole or not at all."""
    if name == "-":
        return write(sys.stdout.buffer)
    # Written aside and renamed, so an interrupted export never looks complete.
    partial = Path(name + ".partial")
    try:
        with partial.open("wb") as out:
            written = write(out)
        partial.replace(name)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CommandError(f"cannot write {name}: {exc.strerror or exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


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
    report = asyncio.run(_import(data_dir, config, args.file))
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(report.outcomes.items()))
    print(f"imported {args.file}: {counts or 'no records'}")
    return print_problems(report)


async def _import(data_dir: DataDir, config: Config, path: Path) -> BundleReport:
    async with opened_store(data_dir) as store:
        verifier = Verifier(config.network.id, config.limits.limits(), config.node.verify_threads)
        try:
            return await import_bundle(store, verifier, path)
        finally:
            verifier.close()


def print_problems(report: BundleReport) -> int:
    """Each bad record of a bundle and why, then the exit status: 1 if any was bad."""
    for ref, reason in report.bad:
        print(f"bad record {ref}: {reason}")
    if report.fatal is not None:
        print(f"bundle failed: {report.fatal}")
    return 0 if report.ok else 1
