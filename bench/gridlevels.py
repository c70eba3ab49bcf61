"""Which grid levels ``map_grid`` should store (storage.mapgrid), measured in process.

Run from the repository root, after ``python -m bench.site`` has built its node::

    python -m bench.gridlevels                      # the 1,000,000 + 100,000 node
    python -m bench.gridlevels --skip-reads --batches 90 \
        --levels 15,16,17,18,21,24,27 --levels 15,17,19,21,23,25,27

On one copy of the site benchmark's cached node (``bench.sitedata``), it:

- times migration 19 (the grid taken back to migration 10's levels first);
- fills ``map_grid`` at every level from 15 to 27 (the time per level added);
- times the deployment clusters of the densest box at each zoom 2 to 12 (issue 12's
  New York GeoJSON box at zoom 10, scaled by two per zoom, and the tile holding
  Manhattan), read at the zoom's grid level from a stored level zero, one and two
  shifts finer: any choice of stored levels costs, at each zoom, one of these;
  then ``deployments()`` at zooms 12-14 (the count that decides points or clusters);
- with ``--http`` instead, serves a copy with a real node (``banscan run``) and times
  New York's screen of clustered GeoJSON at zooms 9-13, as ``bench.site`` times zoom 10,
  each request the first after a publish;
- ingests new deployments in batches with ``map_levels`` holding migration 10's
  levels and each ``--levels`` set in turn (ABC CBA), all in one run on one
  database: the process's CPU per record and the grid's ``add_batch`` statement's
  own CPU time.

It reports and does not assert; the copy is deleted at the end.
"""

import argparse
import asyncio
import math
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.harness import proc_cpu_seconds, stop_node
from bench.querygen import NETWORK
from bench.querytiming import Client
from bench.site import NODE_ENV, invalidate
from bench.siteareas import ms, timed
from bench.sitedata import (
    CHUNK,
    Job,
    SiteNode,
    _checked,
    build,
    chapter_label,
    copy_node,
    sign_job,
    take_reports,
)
from bench.sitetiming import screen_bbox
from node.config import steward_keys
from node.datadir import DataDir
from storage import mapdata, mapgrid
from storage.filters import QueryFilter
from storage.mapdata import Box, cluster_shift
from storage.mapgrid import LAT_OFFSET, LON_OFFSET
from storage.sql import split_statements, statement
from storage.store import Store
from tests.factories import seeded_key
from tests.nodeproc import NodeProcess

DEPLOYMENTS = QueryFilter(kind="deployment", audiences=("public",))
# Issue 12's slowest cluster box: New York at zoom 10 (150,588 cameras).
NEW_YORK = (-74.88891, 40.29361, -73.13109, 41.12639)
MANHATTAN = (40.7580, -73.9855)
ALL_LEVELS = tuple(range(15, 28))
OLD = (15, 18, 21, 24, 27)  # migration 10's
NEW = "15,16,17,18,21,24,27"  # migration 19's


def scaled_box(zoom: int) -> Box:
    """New York's zoom-10 box, twice as wide and high per zoom out, clipped to the world."""
    west, south, east, north = NEW_YORK
    cx, cy = (west + east) / 2, (south + north) / 2
    half_w, half_h = (east - west) / 2 * 2 ** (10 - zoom), (north - south) / 2 * 2 ** (10 - zoom)
    return (
        round(max(cx - half_w, -180) * 1e7),
        round(max(cy - half_h, -90) * 1e7),
        round(min(cx + half_w, 180) * 1e7),
        round(min(cy + half_h, 90) * 1e7),
    )


def tile_box(zoom: int) -> Box:
    """The Web Mercator tile at ``zoom`` holding Manhattan."""
    lat, lon = MANHATTAN
    n = 1 << zoom
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    def lat_of(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return (
        round((x / n * 360 - 180) * 1e7),
        round(lat_of(y + 1) * 1e7),
        round(((x + 1) / n * 360 - 180) * 1e7),
        round(lat_of(y) * 1e7),
    )


def migration_19(database: Path) -> float:
    """Seconds of migration 19 (the new levels' rows counted from the records), after
    taking the grid back to migration 10's levels (its other levels' rows are kept as
    they are: 18 does not touch them)."""
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        kept = ", ".join(str(level) for level in mapgrid.V10_LEVELS)
        conn.execute("BEGIN")
        conn.execute(f"DELETE FROM map_grid WHERE level NOT IN ({kept})")
        set_levels(conn, mapgrid.V10_LEVELS)
        conn.execute("COMMIT")
        started = time.perf_counter()
        conn.execute("BEGIN")
        for sql in split_statements(mapgrid.LEVELS_MIGRATION):
            conn.execute(sql)
        conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


def fill_levels(database: Path, levels: Sequence[int]) -> None:
    """``map_grid`` at ``levels`` (those missing filled from the records)."""
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        have = {row[0] for row in conn.execute("SELECT level FROM map_levels")}
        for level in levels:
            if level in have:
                continue
            started = time.perf_counter()
            conn.execute("BEGIN")
            conn.execute("DELETE FROM map_levels")
            conn.execute("INSERT INTO map_levels VALUES (?)", (level,))
            conn.execute(mapgrid.ADD_BATCH.replace("AND r.rid BETWEEN ?1 AND ?2", ""))
            conn.execute("COMMIT")
            print(f"  level {level} filled in {time.perf_counter() - started:.1f} s")
        conn.execute("DELETE FROM map_levels")
        conn.executemany("INSERT INTO map_levels VALUES (?)", [(v,) for v in levels])
    finally:
        conn.close()


def grid_rows(database: Path, stored: int, level: int, box: Box) -> int:
    """How many ``map_grid`` rows the clusters of ``box`` at ``level`` read from ``stored``."""
    west, south, east, north = box
    shift = level - stored
    first_x, last_x = (west + LON_OFFSET) >> level, (east + LON_OFFSET) >> level
    first_y, last_y = (south + LAT_OFFSET) >> level, (north + LAT_OFFSET) >> level
    sql = statement(
        "SELECT COUNT(*) FROM map_grid WHERE level = ? AND cx BETWEEN ? AND ? "
        "AND cy BETWEEN ? AND ? AND audience = 'public'"
    )
    args = (
        stored,
        first_x << shift,
        ((last_x + 1) << shift) - 1,
        first_y << shift,
        ((last_y + 1) << shift) - 1,
    )
    with sqlite3.connect(database) as conn:
        return int(conn.execute(sql, args).fetchone()[0])


async def reads(store: Store, rounds: int) -> None:
    print(f"cluster reads: CPU of the process, median / worst of {rounds}, and map_grid rows read")
    # Replaced on the module: MapData.clusters calls it by the name it imported.
    original = mapdata.stored_level  # type: ignore[attr-defined]
    try:
        for what, box_of in (("New York box", scaled_box), ("Manhattan tile", tile_box)):
            for zoom in range(2, 13):
                level = cluster_shift(zoom)
                box = box_of(zoom)
                line = [f"  {what:<14} z{zoom:<2} level {level}:"]
                for shift in (0, 1, 2):
                    stored = level - shift
                    if stored < ALL_LEVELS[0]:
                        continue
                    mapdata.stored_level = _fixed(stored)  # type: ignore[attr-defined,assignment]
                    spent = await timed(
                        rounds,
                        lambda lv=level, b=box: store.map.clusters(DEPLOYMENTS, lv, b),  # type: ignore[misc]
                    )
                    rows = grid_rows(store.db.path, stored, level, box)
                    line.append(f"  {shift} shifts {ms(spent)} ({rows:,} rows)")
                print("".join(line), flush=True)
    finally:
        mapdata.stored_level = original  # type: ignore[attr-defined]
    for zoom in (12, 13, 14):
        box = scaled_box(zoom)
        spent = await timed(
            rounds,
            lambda z=zoom, b=box: store.map.deployments(DEPLOYMENTS, z, b),  # type: ignore[misc]
        )
        print(
            f"  New York box   z{zoom} deployments() (count, then points or clusters) {ms(spent)}"
        )


def _fixed(stored: int) -> Callable[[int], int]:
    """A ``stored_level`` that always answers ``stored``."""
    return lambda _level: stored


def set_levels(conn: sqlite3.Connection, levels: Sequence[int]) -> None:
    conn.execute("DELETE FROM map_levels")
    conn.executemany("INSERT INTO map_levels VALUES (?)", [(v,) for v in levels])


async def ingest(path: Path, sets: tuple[tuple[int, ...], ...], batches: int, size: int) -> None:
    directory = DataDir(path)
    config, key = directory.load_config(), directory.load_key()
    limits = config.limits.limits()
    chapter = seeded_key(chapter_label(0))
    store = await Store.open(
        directory.database, synchronous="normal", stewards=steward_keys(config, key.public_key)
    )
    try:
        rows = await store.db.reader.execute_fetchall(
            "SELECT max_seq FROM feeds WHERE origin = ? AND audience = 'public'",
            (chapter.public_key,),
        )
        seq = int(next(iter(rows))[0]) + 1
        print(f"ingest: {batches} batches of {size} deployments, the level sets in turn (ABBA)")
        original = mapgrid.add_batch
        statement_s: dict[int, list[float]] = {n: [] for n in range(len(sets))}
        per_record: dict[int, list[float]] = {n: [] for n in range(len(sets))}
        side = 0

        def measured(conn: sqlite3.Connection, first: int, last: int) -> None:
            set_levels(conn, sets[side])
            # CPU, not wall time: the machine is shared (nothing else runs in the process).
            started = time.process_time()
            original(conn, first, last)
            statement_s[side].append(time.process_time() - started)

        mapgrid.add_batch = measured  # type: ignore[assignment]
        for n in range(batches):
            wires = sign_job(Job(0, seq, [False] * size, [3000] * size, 19_000 + n))
            seq += size
            batch = [_checked(w, NETWORK, limits) for w in wires]
            # ABC then CBA: WAL checkpoints come every few batches, on no one side.
            turn, place = divmod(n, len(sets))
            side = place if turn % 2 == 0 else len(sets) - 1 - place
            started = time.process_time()
            await store.records.ingest(batch, atomic=True)
            per_record[side].append((time.process_time() - started) / size)
        mapgrid.add_batch = original
    finally:
        await store.close()
    for n, levels in enumerate(sets):
        spent, own = per_record[n], statement_s[n]
        print(
            f"  levels {levels}: {statistics.median(spent) * 1e6:7.1f} µs per record"
            f" (median; mean {statistics.fmean(spent) * 1e6:.1f}), add_batch"
            f" {statistics.median(own) / size * 1e6:6.2f} µs of CPU per record"
            f" (median {statistics.median(own) * 1000:.2f} ms a batch; mean"
            f" {statistics.fmean(own) / size * 1e6:.2f} µs)"
        )


def over_http(node: SiteNode, work: Path, rounds: int) -> None:
    """New York's screen of clustered GeoJSON at zooms 9-13 through a real node (as
    ``bench.site`` times zoom 10), each request the first after a write."""
    data_dir = copy_node(node, work / "http")
    take_reports(data_dir)
    process = NodeProcess(data_dir, NODE_ENV)
    try:
        url = process.wait_serving(timeout=600).rstrip("/")
        client = Client(url, "")
        lat, lon = (NEW_YORK[1] + NEW_YORK[3]) / 2, (NEW_YORK[0] + NEW_YORK[2]) / 2
        print(f"over HTTP, each request just after a publish, median / worst of {rounds}:")
        try:
            for zoom in range(9, 14):
                wall, cpu = [], []
                for n in range(rounds):
                    # A box a hair to the east each time: the node keeps map answers a
                    # while after a write, by address (docs/site.md).
                    box = screen_bbox(lat, lon + n * 1e-4, zoom)
                    query = urllib.parse.urlencode({"bbox": box, "zoom": zoom})
                    invalidate(url, node.token)
                    cpu_before, started = proc_cpu_seconds(process.pid), time.perf_counter()
                    status, body = client.get(f"/tiles/data.geojson?{query}")
                    wall.append(time.perf_counter() - started)
                    cpu.append(proc_cpu_seconds(process.pid) - cpu_before)
                    assert status == 200, status
                print(
                    f"  New York screen z{zoom:<2} {ms(wall)}, node CPU"
                    f" {statistics.fmean(cpu) * 1000:5.1f} ms (mean), {len(body):,} bytes"
                )
        finally:
            client.close()
    finally:
        stop_node(process, timeout=120)


async def measure(node: SiteNode, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="banscan-gridlevels-") as work:
        if args.http:
            over_http(node, Path(work), args.rounds)
            return
        path = copy_node(node, Path(work) / "node")
        database = DataDir(path).database
        print(f"the node: {node.how}")
        started = time.perf_counter()
        store = await Store.open(database, synchronous="normal")
        await store.close()
        print(f"opening the copy (migrations it lacked): {time.perf_counter() - started:.1f} s")
        print(f"migration 19 (map_grid's new levels filled): {migration_19(database):.1f} s")
        sets = [tuple(int(v) for v in text.split(",")) for text in args.levels or [NEW]]
        # The reads need every level; the batches, each set's (so each upserts into rows
        # as a node storing that set has them).
        levels = sorted({*OLD, *(v for levels in sets for v in levels)})
        print(f"map_grid at levels {ALL_LEVELS if not args.skip_reads else levels}:")
        fill_levels(database, ALL_LEVELS if not args.skip_reads else levels)
        if not args.skip_reads:
            store = await Store.open(database, synchronous="normal")
            try:
                await reads(store, args.rounds)
            finally:
                await store.close()
        if not args.reads_only:
            await ingest(path, (OLD, *sets), args.batches, args.batch)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gridlevels", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--cache-dir", default=str(Path(tempfile.gettempdir()) / "banscan-bench-cache")
    )
    parser.add_argument("--deployments", type=int, default=1_000_000)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--levels", action="append", help=f"a set to ingest with, beside {OLD} (default {NEW})"
    )
    parser.add_argument("--http", action="store_true", help="only GeoJSON through a real node")
    parser.add_argument("--skip-reads", action="store_true", help="ingest batches only")
    parser.add_argument("--reads-only", action="store_true", help="no ingest batches")
    args = parser.parse_args(argv)
    assert args.batch <= CHUNK
    node = build(Path(args.cache_dir), args.deployments, args.incidents, args.seed, 2)
    asyncio.run(measure(node, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
