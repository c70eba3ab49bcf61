"""Map benchmark: vector tiles and GeoJSON over a million deployments and 100,000 incidents.

Run from the repository root::

    python -m bench.maptiles                                    # 1,000,000 + 100,000
    python -m bench.maptiles --deployments 20000 --incidents 2000   # a quick check

The map reads only the records' query columns, never bodies or signatures, so
the records are written straight into a fresh node's database (``banscan
init``; fake ids, envelopes and signatures), placed around the query
benchmark's cities (``bench/querydata.py``) with the busiest cities densest, and
the grid rollup (``storage.mapgrid``) is filled a batch of 500 at a time as
ingest does, timing each batch. The database is kept under ``build/`` keyed by
the counts, so reruns skip generation.

The node's app then serves on 127.0.0.1 (port 0) in this process, and each
measured request is a *first* request for its URL, so the answer cache never
answers it: tiles of zoom 0 to 16 where the data is (and some where it is not),
unfiltered and with the map's filters, and GeoJSON views. The incident groups
of a filter are computed once per database version (``storage.areacells``);
that first computation is timed on its own. Each figure is printed beside the
issue 12 target (a tile or cluster request p99 <= 50 ms).
"""

import argparse
import asyncio
import logging
import math
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import structlog
from aiohttp import web

from bench import harness
from bench.harness import Table, init_node
from bench.querydata import COUNTRY_CODES, COUNTRY_WEIGHTS, PLACES, geohash
from node.app import create_app
from node.datadir import DataDir
from storage.mapgrid import ADD_BATCH

TARGET_MS = 50.0
BATCH = 500
FRT = ("confirmed", "suspected", "suspected", "unknown", "unknown", "unknown")
STATUS = ("reported", "reported", "corroborated", "confirmed", "disputed", "removed")
FILTERS = ("", "frt=confirmed", "status=confirmed,reported", "country=GB", "city=London")
SLOW_FILTERS = ("occurred_from=2025-01-01",)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.maptiles", description=__doc__)
    parser.add_argument("--deployments", type=int, default=1_000_000)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--tiles", type=int, default=40, help="tiles per zoom and filter")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def place(rng: random.Random) -> tuple[str, str, float, float]:
    """A country, a city and a point near it (most within a few km, some far out)."""
    country = rng.choices(COUNTRY_CODES, COUNTRY_WEIGHTS)[0]
    cities, weights = PLACES[country]
    city = rng.choices(cities, weights)[0]
    spread = 0.05 if rng.random() < 0.8 else 1.5
    lat = max(min(rng.gauss(city.lat, spread), 84.9), -84.9)
    lon = max(min(rng.gauss(city.lon, spread), 179.9), -179.9)
    return country, city.city, lat, lon


def generate(path: Path, deployments: int, incidents: int, seed: int) -> list[float]:
    """Fill the node's database; the time of each grid batch, in ms."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    origin = b"\x01" * 32
    rows: list[tuple[object, ...]] = []
    for n in range(deployments + incidents):
        country, city, lat, lon = place(rng)
        day = f"20{rng.randrange(18, 27)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        common = (os.urandom(32), origin, "public", n + 1, 1_700_000_000_000 + n, b"", b"")
        if n < deployments:
            position = (round(lat * 1e7), round(lon * 1e7))
            columns = ("deployment", country, city, None, rng.choice(STATUS), day, None)
            rows.append((*common, *columns, *position, rng.choice(FRT)))
        else:
            area = geohash(lat, lon, rng.choice((4, 5, 5, 6, 6, 6)))
            incident = ("incident", country, city, "misidentification", "unverified", day, area)
            rows.append((*common, *incident, None, None, None))
    insert = (
        "INSERT INTO records (id, origin, audience, seq, created_ms, envelope, signature,"
        " kind, country, city, category, status, occurred_on, area, lat_e7, lon_e7, frt,"
        " received_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?, 0)"
    )
    batches = []
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        conn.execute("BEGIN")
        conn.executemany(insert, chunk)
        began = time.perf_counter()
        conn.execute(ADD_BATCH, (start + 1, start + len(chunk)))
        batches.append((time.perf_counter() - began) * 1000)
        conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return batches


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    n = 1 << z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), min(max(int(y), 0), n - 1)


def urls(rng: random.Random, per: int, filters: Sequence[str]) -> list[tuple[str, str]]:
    """(label, URL) of the tiles and views to request, each once."""
    out: list[tuple[str, str]] = []
    for query in filters:
        for z in range(17):
            tiles: set[tuple[int, int]] = set()
            while len(tiles) < min(per, 4**z):
                if rng.random() < 0.9:
                    _, _, lat, lon = place(rng)
                    tiles.add(tile_of(lat, lon, z))
                else:
                    tiles.add((rng.randrange(1 << z), rng.randrange(1 << z)))
            suffix = f"?{query}" if query else ""
            out += [(f"tile z{z}", f"/tiles/{z}/{x}/{y}.mvt{suffix}") for x, y in tiles]
        for z in (2, 5, 9, 13):
            for _ in range(per // 4):
                _, _, lat, lon = place(rng)
                half = 180 / (1 << z)
                bbox = f"{max(lon - half, -180):.4f},{max(lat - half / 2, -89):.4f},"
                bbox += f"{min(lon + half, 180):.4f},{min(lat + half / 2, 89):.4f}"
                amp = f"&{query}" if query else ""
                out.append((f"geojson z{z}", f"/tiles/data.geojson?bbox={bbox}&zoom={z}{amp}"))
    return out


async def timed(session: aiohttp.ClientSession, base: str, url: str) -> tuple[float, int]:
    began = time.perf_counter()
    async with session.get(base + url) as response:
        await response.read()
        status = response.status
    return (time.perf_counter() - began) * 1000, status


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


async def serve_and_measure(data_dir: Path, args: argparse.Namespace) -> int:
    # Request logs would bury the table: warnings and errors only.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    directory = DataDir(data_dir)
    app = create_app(directory.load_config(), directory.load_key(), directory.database)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(args.seed + 1)
    try:
        async with aiohttp.ClientSession() as session:
            first: dict[str, float] = {}
            for query in (*FILTERS, *SLOW_FILTERS):
                url = f"/tiles/0/0/0.mvt?{query}&lang=en"
                first[query or "none"] = (await timed(session, base, url))[0]
            measured: dict[str, list[float]] = {}
            errors = 0
            for label, url in urls(rng, args.tiles, FILTERS):
                ms, status = await timed(session, base, url)
                errors += status != 200
                measured.setdefault(label.split()[0], []).append(ms)
                measured.setdefault(label, []).append(ms)
            slow: list[float] = []
            for _, url in urls(rng, max(args.tiles // 4, 2), SLOW_FILTERS):
                slow.append((await timed(session, base, url))[0])
    finally:
        await runner.cleanup()
    report(measured, first, slow, errors)
    return 0


def report(
    measured: dict[str, list[float]], first: dict[str, float], slow: list[float], errors: int
) -> None:
    table = Table(44, 10, 22)
    print("\n".join(table.head()))
    for label in ("tile", "geojson"):
        values = measured[label]
        for name, fraction in (("p50", 0.5), ("p99", 0.99)):
            value = percentile(values, fraction)
            verdict = "ok" if value <= TARGET_MS or name == "p50" else "MISSED"
            target = f"<= {TARGET_MS:.0f} ms" if name == "p99" else ""
            row = f"{label} {name}, first request ({len(values)} URLs)"
            print(table.row(row, f"{value:.1f} ms", target, verdict))
    for z in range(17):
        values = measured.get(f"tile z{z}", [])
        if values:
            row = f"  tile z{z}: p50 / p99 / max"
            figures = (
                f"{percentile(values, 0.5):.1f}/{percentile(values, 0.99):.1f}/{max(values):.1f}"
            )
            print(table.row(row, figures))
    for name, ms in first.items():
        print(table.row(f"first tile of filter {name} (incident groups)", f"{ms:.1f} ms"))
    print(table.row("date filter tiles p50 (no rollup: a scan)", f"{percentile(slow, 0.5):.1f} ms"))
    print(
        table.row("date filter tiles p99 (no rollup: a scan)", f"{percentile(slow, 0.99):.1f} ms")
    )
    print(table.row("requests answered other than 200", str(errors), "0"))


def measure(args: argparse.Namespace) -> int:
    cache = Path("build") / f"maptiles-{args.deployments}-{args.incidents}-{args.seed}"
    if not DataDir(cache).is_initialised():
        cache.parent.mkdir(exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="maptiles-", dir=cache.parent))
        init_node(work, "maptiles-bench")
        directory = DataDir(work)
        from storage.database import Database  # migrations, so the schema is current

        async def migrate() -> None:
            await (await Database.open(directory.database)).close()

        asyncio.run(migrate())
        began = time.perf_counter()
        batches = generate(directory.database, args.deployments, args.incidents, args.seed)
        print(f"generated in {time.perf_counter() - began:.0f} s")
        grid = statistics.median(batches[: args.deployments // BATCH])
        print(f"grid rollup per batch of {BATCH} deployments: median {grid:.2f} ms")
        work.rename(cache)
    with sqlite3.connect(DataDir(cache).database) as conn:
        rows = int(conn.execute("SELECT COUNT(*) FROM map_grid").fetchone()[0])
    print(f"map_grid rows: {rows}")
    return asyncio.run(serve_and_measure(cache, args))


def main(argv: Sequence[str] | None = None) -> int:
    return harness.main("maptiles", parse_args, measure, argv)


if __name__ == "__main__":
    raise SystemExit(main())
