"""Ingest in-process on copies of one database: what a schema change costs each record.

Run from the repository root::

    python -m bench.ingestcopies --stored 100000 --records 30000 \\
        --variant "fewer=DROP INDEX records_kind"

It stores ``--stored`` of :mod:`bench.ingestdata`'s incidents once through
``RecordStore.ingest`` (kept under ``--dir`` for later runs), copies that database
once per variant (``main`` as it is, and each ``--variant NAME=SQL``, the SQL run
on its copy), then ingests ``--records`` more into every copy, verified beforehand,
in batches of 500, alternating between the copies every ``--chunk`` records, each
chunk followed by its background checkpoint. It prints, per copy, the CPU of the
whole process (every thread) and the bytes written per record: ``wchar`` (what
SQLite hands to ``write``) and ``write_bytes``. On this machine's kernel
``write_bytes`` counts a copied file's page writes several times over (its page
cache folios are large), so ``wchar`` is the figure to compare; ``bench.ingest``
measures ``write_bytes`` on nodes that grew their own files.

The copies run this tree's code, so a migration of this tree would run on every
copy: compare a schema change as a variant's SQL, from a tree without it.
"""

import argparse
import asyncio
import os
import shutil
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from bench.ingestdata import NETWORK, ORIGINS, Generator, origin_label
from protocol.limits import DEFAULT_LIMITS
from protocol.records import VerifiedRecord, verify_record
from storage.classify import Outcome
from storage.store import Store
from tests.factories import STEWARD, admit, seeded_key

BATCH = 500


def io_counts() -> tuple[int, int]:
    """This process's ``write_bytes`` and ``wchar`` so far."""
    with open("/proc/self/io") as lines:
        counts = {name: int(value) for name, value in (line.split(":") for line in lines)}
    return counts["write_bytes"], counts["wchar"]


def verified(generator: Generator, count: int) -> list[VerifiedRecord]:
    return [
        verify_record(r, network_id=NETWORK, limits=DEFAULT_LIMITS)
        for r in generator.take(count).records
    ]


async def ingest(store: Store, records: Sequence[VerifiedRecord]) -> None:
    for start in range(0, len(records), BATCH):
        results = await store.records.ingest(records[start : start + BATCH])
        if any(r.outcome is not Outcome.ACCEPTED for r in results):
            raise RuntimeError(f"not accepted: {results[0]}")


async def open_store(path: Path) -> Store:
    return await Store.open(path, stewards=frozenset({STEWARD.public_key}))


async def build(path: Path, generator: Generator, stored: int) -> None:
    """The database of ``stored`` records that every copy starts from."""
    began = time.perf_counter()
    partial = path.with_suffix(".partial")
    store = await open_store(partial)
    try:
        await admit(store, *[seeded_key(origin_label(o)).public_key for o in range(ORIGINS)])
        done = 0
        while done < stored:
            count = min(20_000, stored - done)
            await ingest(store, verified(generator, count))
            done += count
        await store.db.checkpoint()
    finally:
        await store.close()
    partial.rename(path)
    print(f"built {path} in {time.perf_counter() - began:,.0f} s", flush=True)


def copies(directory: Path, base: Path, variants: dict[str, str]) -> dict[str, Path]:
    """A copy of ``base`` per variant, its SQL run on it, written out before measuring."""
    paths = {}
    for name, sql in variants.items():
        copy = directory / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(base, copy)
        if sql:
            conn = sqlite3.connect(copy)
            conn.executescript(sql)
            conn.close()
        paths[name] = copy
    os.sync()
    return paths


async def measure(paths: dict[str, Path], generator: Generator, records: int, chunk: int) -> None:
    stores: dict[str, Store] = {}
    try:
        for name, path in paths.items():
            stores[name] = await open_store(path)
            await stores[name].db.checkpoint()
        cpu = dict.fromkeys(paths, 0.0)
        written = {name: [0, 0] for name in paths}
        done, order = 0, list(paths)
        while done < records:
            part = verified(generator, min(chunk, records - done))
            for name in order:
                before, wrote = time.process_time(), io_counts()
                await ingest(stores[name], part)
                await stores[name].db._settle()  # the chunk's checkpoint counts too
                after = io_counts()
                cpu[name] += time.process_time() - before
                written[name][0] += after[0] - wrote[0]
                written[name][1] += after[1] - wrote[1]
            order.reverse()
            done += len(part)
        for name in paths:
            print(
                f"{name:>12}: {cpu[name] / done * 1e6:6.1f} µs CPU, "
                f"{written[name][1] / done / 1000:5.1f} KB wchar, "
                f"{written[name][0] / done / 1000:5.1f} KB write_bytes per record",
                flush=True,
            )
    finally:
        for store in stores.values():
            await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingestcopies", description=__doc__)
    parser.add_argument("--stored", type=int, default=100_000, help="records stored first")
    parser.add_argument("--records", type=int, default=20_000, help="records measured")
    parser.add_argument("--chunk", type=int, default=1_000, help="records per turn")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", default="/tmp/banscan-ingestcopies", help="where copies go")
    parser.add_argument(
        "--variant", action="append", default=[], metavar="NAME=SQL", help="a copy's SQL"
    )
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    base = directory / f"base-{args.stored}-seed{args.seed}.db"
    variants = {"main": ""} | dict(v.split("=", 1) for v in args.variant)
    with Generator(args.seed) as generator:
        if base.exists():
            generator.take(args.stored)  # the records that come next are the same
        else:
            asyncio.run(build(base, generator, args.stored))
        paths = copies(directory, base, variants)
        asyncio.run(measure(paths, generator, args.records, args.chunk))
    for name, path in paths.items():
        print(f"{name:>12}: file {path.stat().st_size / 2**20:,.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
