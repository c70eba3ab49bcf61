"""The publish path alone: what one ``POST /api/v1/records`` costs, counted rather than timed.

Run from the repository root::

    python -m bench.publishpath                         # 400 publishes, one at a time
    python -m bench.publishpath --before /tmp/old-tree  # another tree first, then this one
    python -m bench.publishpath --concurrency 8         # 8 publishers at once
    python -m bench.publishpath --profile /tmp/pub      # cProfile of the event loop's thread

A node app (``node.app.create_app``, a real data directory and SQLite file with
the configured ``synchronous = full``) serves on 127.0.0.1 in this process;
``--concurrency`` clients publish incidents over loopback until ``--count``
records are stored. Nothing else runs, so on a shared machine the counts below
are what compare, more than the times:

- **hops**: calls handed to an aiosqlite connection's thread (each one a queue
  put, a thread wake-up and a ``call_soon_threadsafe`` back to the loop), per
  publish, for the writer and the reader connection;
- **commits**: write transactions committed, per publish;
- **writer thread ms**: time the writer connection's thread spent running
  those calls, per publish, and the part of it spent in ``COMMIT`` (the fsync);
- **CPU ms**: the process's CPU time (every thread) per publish;
- wall time per publish (p50, p99) and publishes per second.

With ``--before DIR`` the same measurement runs first on the tree in DIR (this
file run with ``PYTHONPATH=DIR``), then here, and the ratios are printed.
Exit status: 0 when it measured, 1 when it could not, 2 for bad arguments.
"""

import argparse
import asyncio
import cProfile
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import aiosqlite
from aiohttp.test_utils import TestServer

from bench import harness
from bench.harness import Table
from node.app import create_app
from node.datadir import DataDir
from node.logs import configure_logging
from node.state import STORE
from storage.tokens import Role
from tests.factories import NETWORK, incident_body

COUNT = 400
WARMUP = 20
MEASURES = (
    ("writes/s", "writes_per_s", "{:.1f}"),
    ("p50 ms", "p50_ms", "{:.2f}"),
    ("p99 ms", "p99_ms", "{:.2f}"),
    ("CPU ms per publish (all threads)", "cpu_ms", "{:.2f}"),
    ("writer hops per publish", "writer_hops", "{:.1f}"),
    ("reader hops per publish", "reader_hops", "{:.1f}"),
    ("writer statements per publish", "statements", "{:.1f}"),
    ("commits per publish", "commits", "{:.2f}"),
    ("writer thread ms per publish", "writer_ms", "{:.2f}"),
    ("  of which COMMIT ms", "commit_ms", "{:.2f}"),
    ("COMMIT ms p50", "commit_p50_ms", "{:.2f}"),
    ("COMMIT ms p99", "commit_p99_ms", "{:.2f}"),
)


class Hops:
    """Counts and times what aiosqlite connections run on their threads, and the
    statements the writer connection runs (its trace callback)."""

    def __init__(self) -> None:
        self.calls: dict[int, int] = {}
        self.busy_s: dict[int, float] = {}
        self.statements = 0
        self.commits = 0
        self.commit_s = 0.0
        self.commit_ms: list[float] = []
        self._commit_began: float | None = None
        self._original = aiosqlite.Connection._execute

    def install(self) -> None:
        hops = self
        original = self._original
        self.statements = 0

        async def counted(conn: aiosqlite.Connection, fn: Callable[..., Any], *a: Any) -> Any:
            key = id(conn)
            hops.calls[key] = hops.calls.get(key, 0) + 1
            call = partial(hops.timed, key, fn, a)
            return await original(conn, call)  # type: ignore[no-untyped-call]

        aiosqlite.Connection._execute = counted  # type: ignore[method-assign]

    def trace(self, sql: str) -> None:
        """On the writer's thread, as each statement starts."""
        self.statements += 1
        if sql.strip().upper() == "COMMIT":
            self._commit_began = time.perf_counter()

    def timed(self, key: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        began = time.perf_counter()
        try:
            return fn(*args)
        finally:
            ended = time.perf_counter()
            self.busy_s[key] = self.busy_s.get(key, 0.0) + ended - began
            if self._commit_began is not None:
                # A commit ends its call, whether the call was COMMIT alone or a whole write.
                self.commits += 1
                self.commit_s += ended - self._commit_began
                self.commit_ms.append((ended - self._commit_began) * 1000)
                self._commit_began = None

    def uninstall(self) -> None:
        aiosqlite.Connection._execute = self._original  # type: ignore[method-assign]


class Publisher:
    """Clients publishing incidents over loopback, one request at a time each."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str) -> None:
        self.http, self.url = http, url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.latencies: list[float] = []

    async def client(self, n: int, record: bool) -> None:
        while n > 0:
            n -= 1
            body = {**incident_body(), "summary": f"Published alone, number {n}."}
            payload = {"kind": "incident", "audience": "public", "body": body}
            began = time.perf_counter()
            async with self.http.post(self.url, json=payload, headers=self.headers) as answer:
                await answer.read()
                if answer.status != 201:
                    raise RuntimeError(f"publish failed: {answer.status}")
            if record:
                self.latencies.append((time.perf_counter() - began) * 1000)


async def publish_all(args: argparse.Namespace, work: Path) -> dict[str, float]:
    configure_logging("warning", "console")  # no line per request
    directory = DataDir(work / "node")
    key = directory.init(NETWORK, [])
    server = TestServer(
        create_app(directory.load_config(), key, directory.database), host="127.0.0.1"
    )
    await server.start_server()
    hops = Hops()
    per = max(1, args.count // args.concurrency)
    total = per * args.concurrency
    try:
        token = await server.app[STORE].tokens.create(Role.PUBLISHER, "bench")
        db = server.app[STORE].db
        writer, reader = id(db._writer), id(db.reader)
        await db._writer.set_trace_callback(hops.trace)
        async with aiohttp.ClientSession() as http:
            publisher = Publisher(http, str(server.make_url("/api/v1/records")), token)
            await publisher.client(WARMUP, False)
            hops.install()
            profile = cProfile.Profile() if args.profile else None
            cpu, began = time.process_time(), time.perf_counter()
            if profile:
                profile.enable()
            await asyncio.gather(*(publisher.client(per, True) for _ in range(args.concurrency)))
            if profile:
                profile.disable()
                profile.dump_stats(args.profile)
            wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    finally:
        hops.uninstall()
        await server.close()
    quantiles = statistics.quantiles(publisher.latencies, n=100)
    return {
        "writes_per_s": total / wall,
        "p50_ms": quantiles[49],
        "p99_ms": quantiles[98],
        "cpu_ms": cpu * 1000 / total,
        "writer_hops": hops.calls.get(writer, 0) / total,
        "reader_hops": hops.calls.get(reader, 0) / total,
        "statements": hops.statements / total,
        "commits": hops.commits / total,
        "writer_ms": hops.busy_s.get(writer, 0.0) * 1000 / total,
        "commit_ms": hops.commit_s * 1000 / total,
        "commit_p50_ms": statistics.median(hops.commit_ms),
        "commit_p99_ms": statistics.quantiles(hops.commit_ms, n=100)[98],
    }


def run_here(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="banscan-publish-", dir=args.dir) as tmp:
        return asyncio.run(publish_all(args, Path(tmp)))


def run_tree(tree: Path, args: argparse.Namespace) -> dict[str, float]:
    """This file, run on ``tree``'s code in a child process; its figures."""
    command = [sys.executable, str(Path(__file__).resolve()), "--json"]
    command += ["--count", str(args.count), "--concurrency", str(args.concurrency)]
    if args.dir:
        command += ["--dir", args.dir]
    if args.profile:
        command += ["--profile", f"{args.profile}.before"]
    # The child imports bench, node and tests from ``tree`` only.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with tempfile.TemporaryDirectory() as cwd:
        done = subprocess.run(
            command, env=env, cwd=cwd, capture_output=True, text=True, timeout=1800, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"the run on {tree} failed: {done.stderr[-2000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


TABLE = Table(measure=36, value=10, target=10)


def report(name: str, figures: dict[str, float], before: dict[str, float] | None) -> list[str]:
    lines = [f"{name}:", TABLE.row("measure", "result", "x before" if before else "")]
    for label, key, form in MEASURES:
        ratio = f"{figures[key] / before[key]:.2f}x" if before and before[key] else ""
        lines.append(TABLE.row(label, form.format(figures[key]), ratio))
    return lines


def measure(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(run_here(args)))
        return 0
    before = run_tree(args.before.resolve(), args) if args.before else None
    if before is not None:
        print("\n".join(report(f"before ({args.before})", before, None)), flush=True)
    if args.profile and before is not None:
        args.profile = f"{args.profile}.after"
    after = run_here(args)
    print("\n".join(report("this tree", after, before)))
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.publishpath", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--count", type=int, default=COUNT, help="publishes measured")
    parser.add_argument("--concurrency", type=int, default=1, help="publishers at once")
    parser.add_argument("--before", type=Path, help="another source tree to measure first")
    parser.add_argument("--profile", help="write cProfile stats of the event loop to this file")
    parser.add_argument("--dir", help="where the data directory goes (default: the temp dir)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.profile:
        args.profile = os.path.abspath(args.profile)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and "--json" in sys.argv:
        # A child run: its only output is the figures' JSON line.
        return measure(parse_args(None))
    return harness.main("publishpath", parse_args, measure, argv)


if __name__ == "__main__":
    raise SystemExit(main())
