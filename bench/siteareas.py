"""What the map's incident rollup (storage.mapareas, migration 17) costs and saves, in process.

Run from the repository root, after ``python -m bench.site`` has built its node::

    python -m bench.siteareas                       # the 1,000,000 + 100,000 node
    python -m bench.siteareas --batches 20 --batch 500

On one copy of the site benchmark's cached node (``bench.sitedata``; the copy is
migrated, so the first figure is migration 17's backfill), it times:

- reading the public incidents per area cell, from the records (``GROUP BY`` over
  ``records_map_areas``, what ``main`` does) and from ``map_areas``; then the
  groups (``suppress``) and their views at two and six characters;
- ingest of new incidents signed by the data set's first chapter, in batches,
  with the rollup's ``add_batch`` and with it replaced by nothing in turn (ABBA),
  both sides in one run on one database: the process's CPU per record (all
  threads: the writer thread stores), and the ``add_batch`` statement's own time.

It reports and does not assert; the copy is deleted at the end.
"""

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.querygen import NETWORK
from bench.sitedata import (
    CHUNK,
    Job,
    SiteNode,
    _checked,
    build,
    chapter_label,
    copy_node,
    sign_job,
)
from node.config import steward_keys
from node.datadir import DataDir
from storage import mapareas
from storage.areacells import suppress
from storage.filters import QueryFilter
from storage.store import Store
from tests.factories import seeded_key

PUBLIC = QueryFilter(kind="incident", audiences=("public",))


def ms(seconds: Sequence[float]) -> str:
    """Median and worst of timings, in milliseconds."""
    return f"{statistics.median(seconds) * 1000:7.1f} / {max(seconds) * 1000:7.1f} ms"


async def timed(rounds: int, run: Callable[[], Any]) -> list[float]:
    """CPU seconds of the process (all threads: the reader's too) per run: on a shared
    machine the wall time says more about the neighbours than about the work."""
    spent = []
    for _ in range(rounds):
        started = time.process_time()
        result = run()
        if asyncio.iscoroutine(result):
            await result
        spent.append(time.process_time() - started)
    return spent


def migration_17(database: Path) -> float:
    """Seconds to undo and run migration 17 again (its table filled from the records)."""
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.executescript(
            "DROP TRIGGER map_areas_remove; DROP TRIGGER map_areas_restore; DROP TABLE map_areas;"
        )
        started = time.perf_counter()
        conn.executescript(f"BEGIN; {mapareas.MIGRATION}; COMMIT;")
        return time.perf_counter() - started
    finally:
        conn.close()


def _nothing(conn: sqlite3.Connection, first: int, last: int) -> None:
    """The rollup's add_batch left out."""


async def reads(store: Store, rounds: int) -> None:
    print("reads: CPU, median / worst of", rounds)
    scanned = await timed(rounds, lambda: store.map.area_counts(PUBLIC, rollup=False))
    rolled = await timed(rounds, lambda: store.map.area_counts(PUBLIC))
    counts = await store.map.area_counts(PUBLIC)
    assert counts == await store.map.area_counts(PUBLIC, rollup=False)
    print(f"  incidents per cell, from the records    {ms(scanned)}  ({len(counts):,} cells)")
    print(f"  incidents per cell, from map_areas      {ms(rolled)}")
    grouped = await timed(rounds, lambda: suppress(counts, 3))
    print(f"  suppress (minimum 3)                    {ms(grouped)}")
    for precision in (2, 6):
        views = await timed(rounds, lambda p=precision: suppress(counts, 3).at(p))  # type: ignore[misc]
        alone = await timed(rounds, lambda: suppress(counts, 3))
        spent = [max(v - a, 0.0) for v, a in zip(views, alone, strict=True)]
        print(f"  view at {precision} characters (beyond suppress)  {ms(spent)}")


async def ingest(path: Path, batches: int, size: int) -> None:
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
        print(f"ingest: {batches} batches of {size} incidents, with and without in turn (ABBA)")
        print("  the rollup's add_batch (CPU of the process, all threads, per record)")
        original = mapareas.add_batch
        statement: list[float] = []

        def measured(conn: sqlite3.Connection, first: int, last: int) -> None:
            started = time.perf_counter()
            original(conn, first, last)
            statement.append(time.perf_counter() - started)

        per_record: dict[bool, list[float]] = {True: [], False: []}
        for n in range(batches):
            wires = sign_job(Job(0, seq, [True] * size, [3000] * size, 9_000 + n))
            seq += size
            batch = [_checked(w, NETWORK, limits) for w in wires]
            # ABBA: WAL checkpoints come every few batches; plain alternation put them
            # on one side only (the side without the rollup came out dearer every run).
            with_rollup = n % 4 in (0, 3)
            # Replaced on the module: storage.records calls it as mapareas.add_batch.
            mapareas.add_batch = measured if with_rollup else _nothing  # type: ignore[assignment]
            started = time.process_time()
            await store.records.ingest(batch, atomic=True)
            per_record[with_rollup].append((time.process_time() - started) / size)
        mapareas.add_batch = original
    finally:
        await store.close()
    with_, without = per_record[True], per_record[False]
    for label, spent in (("with the rollup", with_), ("without", without)):
        median, mean = statistics.median(spent) * 1e6, statistics.fmean(spent) * 1e6
        print(f"  {label:<20} {median:8.1f} µs per record (median; mean {mean:.1f})")
    print(
        f"  add_batch statement  {statistics.median(statement) / size * 1e6:8.2f} µs per record"
        f" (median of {len(statement)} batches: {statistics.median(statement) * 1000:.2f} ms)"
    )


async def measure(node: SiteNode, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="banscan-areas-") as work:
        path = copy_node(node, Path(work) / "node")
        print(f"the node: {node.how}")
        print(f"migration 17 (map_areas filled): {migration_17(DataDir(path).database):.2f} s")
        store = await Store.open(DataDir(path).database, synchronous="normal")
        try:
            await reads(store, args.rounds)
        finally:
            await store.close()
        await ingest(path, args.batches, args.batch)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.siteareas", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--cache-dir", default=str(Path(tempfile.gettempdir()) / "banscan-bench-cache")
    )
    parser.add_argument("--deployments", type=int, default=1_000_000)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)
    assert args.batch <= CHUNK
    node = build(Path(args.cache_dir), args.deployments, args.incidents, args.seed, 2)
    asyncio.run(measure(node, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
