"""``banscan import-osm`` and ``export-osm``: cameras from and to OpenStreetMap.

The work is :mod:`node.osm`'s; this module parses options, opens the node's
store (the node may be running), reports progress on a terminal and prints
the counts. Neither command opens a network connection.
"""

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import TextIO

from node.cli.common import CommandError, data_dir_of, opened_store
from node.cli.filters import FILTER_OPTIONS, query_filter
from node.cli.registrar import Registrar
from node.osm.changes import (
    Finding,
    NearOsm,
    chapter_findings,
    geojson_lines,
    write_osmchange,
)
from node.osm.elements import OsmInputError, read_cameras
from node.osm.importer import Bounds, ImportCounts, held_imports, import_cameras
from node.osm.signer import ImportPublisher
from node.params import INCIDENT_ONLY, parse_bbox
from node.problems import BadParameter
from protocol import geohash
from protocol.countries import COUNTRY_CODES
from protocol.envelope import AUDIENCES

# Deployments worth mapping unless --status says otherwise: not disputed, not removed.
EXPORT_STATUSES = "reported,corroborated,confirmed"
EXPORT_FORMATS = ("osc", "geojson")


def register(cli: Registrar) -> None:
    """Add ``import-osm`` and ``export-osm``."""
    imp = cli.command(
        "import-osm",
        "Publish the surveillance cameras of an OpenStreetMap extract or Overpass answer as "
        "this node's deployments: new ones, and new versions of those it already published.",
        cmd_import_osm,
        data_dir=True,
    )
    imp.add_argument("file", metavar="FILE", type=Path, help=".osm, .osm.pbf or Overpass JSON")
    imp.add_argument(
        "--country",
        required=True,
        metavar="CC",
        help="ISO 3166-1 alpha-2 country of the cameras (an addr:country tag overrides it)",
    )
    imp.add_argument("--city", metavar="CITY", help="their city (default: an addr:city tag)")
    where = imp.add_mutually_exclusive_group()
    where.add_argument(
        "--bbox", metavar="BOX", help="only cameras in min_lon,min_lat,max_lon,max_lat (degrees)"
    )
    where.add_argument("--area", metavar="GEOHASH", help="only cameras in this geohash cell")
    imp.add_argument(
        "--audience", default="public", choices=AUDIENCES, help="default: public (OSM is public)"
    )
    imp.add_argument(
        "--dry-run", action="store_true", help="count new, updated and unchanged; publish nothing"
    )

    exp = cli.command(
        "export-osm",
        "Write the public deployments chapters found (not those from OpenStreetMap) as an "
        "osmChange file or GeoJSON with OSM tags, for a mapper to review and upload.",
        cmd_export_osm,
        data_dir=True,
    )
    exp.add_argument("--out", required=True, metavar="FILE", help="output file, or - for stdout")
    exp.add_argument("--format", default="osc", choices=EXPORT_FORMATS, help="default: osc")
    exp.add_argument(
        "--near",
        type=float,
        default=15.0,
        metavar="METRES",
        help="leave out deployments within this distance of a camera that came from "
        f"OpenStreetMap (default: 15; 0 keeps them; at most {NearOsm.MAX_METRES:g})",
    )
    for option, parameter, help_text in FILTER_OPTIONS:
        if parameter == "status":
            help_text = f"deployment statuses, comma-separated (default: {EXPORT_STATUSES})"
        if parameter not in INCIDENT_ONLY:
            exp.add_argument(option, dest=f"filter_{parameter}", metavar="VALUE", help=help_text)
    exp.set_defaults(**{f"filter_{p}": None for p in INCIDENT_ONLY})


def cmd_import_osm(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    config = data_dir.load_config()
    key = data_dir.load_key()
    country = args.country.upper()
    if country not in COUNTRY_CODES:
        raise CommandError(f"--country: {args.country!r} is not an ISO 3166-1 alpha-2 code")
    if not args.file.is_file():
        raise CommandError(f"{args.file}: no such file")
    bounds = _bounds(args)

    async def run() -> ImportCounts:
        async with opened_store(data_dir) as store:
            held = await held_imports(store.queries, key.public_key)
            publish = ImportPublisher(
                store,
                key,
                data_dir.path,
                network_id=config.network.id,
                limits=config.limits.limits(),
            )
            try:
                counts = await import_cameras(
                    read_cameras(args.file),
                    held,
                    country=country,
                    city=args.city,
                    bounds=bounds,
                    audience=args.audience,
                    publish=None if args.dry_run else publish,
                    progress=progress.show,
                )
                await publish.drain()
                return counts
            finally:
                await publish.close()

    progress = _Progress(sys.stderr)

    try:
        counts = asyncio.run(run())
    except OsmInputError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        progress.end()
    if args.dry_run:
        print(f"dry run, nothing published; {args.file}: {counts.summary()}")
    else:
        print(f"imported {args.file}: {counts.summary()}")
    if counts.tags_left_out:
        print(
            f"note: {counts.tags_left_out} tags left out: keys with capitals or digits, "
            "values over 255 characters, or past 32 tags on one object"
        )
    return 0


def _bounds(args: argparse.Namespace) -> Bounds | None:
    if args.bbox is not None:
        try:
            return parse_bbox(args.bbox)
        except BadParameter as exc:
            raise CommandError(f"--bbox: {exc.detail.removeprefix('bbox: ')}") from exc
    if args.area is not None:
        try:
            cell = geohash.decode(args.area)
        except ValueError as exc:
            raise CommandError(f"--area: {exc}") from exc
        return tuple(  # type: ignore[return-value]
            geohash.to_e7(v) for v in (cell.south, cell.west, cell.north, cell.east)
        )
    return None


class _Progress:
    """The counts so far on one terminal line; silent when not on a terminal."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._last = 0.0

    def show(self, counts: ImportCounts) -> None:
        now = time.monotonic()
        if not self._out.isatty() or now - self._last < 0.25:
            return
        self._last = now
        self._out.write(f"\rread {counts.read:,} cameras: {counts.summary()}\x1b[K")
        self._out.flush()

    def end(self) -> None:
        """End the progress line, if one was written, so what follows starts on its own."""
        if self._last:
            self._out.write("\n")
            self._out.flush()


def cmd_export_osm(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    data_dir.load_config()
    data_dir.load_key()
    if not 0 <= args.near <= NearOsm.MAX_METRES:
        raise CommandError(f"--near: must be from 0 to {NearOsm.MAX_METRES:g} metres")
    if args.out == "-" and args.format == "osc":
        raise CommandError("--format osc is written to a file: give --out FILE")
    if args.filter_status is None:
        args.filter_status = EXPORT_STATUSES
    # Only what is already public may go to a public map.
    query = query_filter(args, "deployment", ("public",))

    async def collect() -> tuple[list[Finding], int]:
        async with opened_store(data_dir) as store:
            return await chapter_findings(store.queries, query, NearOsm(args.near))

    findings, near = asyncio.run(collect())
    if args.out == "-":
        sys.stdout.writelines(geojson_lines(findings))
    else:
        # Written aside and renamed, so an interrupted export never looks complete.
        partial = Path(args.out + ".partial")
        try:
            if args.format == "osc":
                write_osmchange(findings, partial)
            else:
                with partial.open("w", encoding="utf-8") as out:
                    out.writelines(geojson_lines(findings))
            partial.replace(args.out)
        except (OSError, RuntimeError) as exc:
            partial.unlink(missing_ok=True)
            raise CommandError(f"cannot write {args.out}: {exc}") from exc
    print(f"exported {len(findings)} deployments to {args.out}", file=sys.stderr)
    if near:
        print(
            f"note: left out {near} within {args.near:g} m of a camera that came from "
            "OpenStreetMap (--near 0 keeps them)",
            file=sys.stderr,
        )
    return 0
