"""Mixed-load benchmark: anonymous readers beside a publisher, a report sender and a syncing peer.

Run from the repository root::

    python -m bench.mixed                          # this tree, 30 s
    python -m bench.mixed --before /work/main      # another tree first, then this one
    python -m bench.mixed --seconds 5 --seed 200   # a quick run to check the script

For each tree it runs ``banscan init`` in a temporary directory, creates a
publisher token, adds a moderator key (so the node takes reports) and admits the
syncing peer's key, starts ``banscan run`` on 127.0.0.1 port 0 as a child
process with ``PYTHONPATH`` set to that tree, and publishes ``--seed`` public
incidents. Then, for ``--seconds``, over loopback with aiohttp clients:

- ``--readers`` anonymous readers, each looping on one of
  ``GET /api/v1/records?limit=100`` (3 in 8), ``GET /api/v1/stats`` (1 in 8),
  ``GET /api/v1/records/{id}`` of a seeded record (2 in 8) and the public
  site's pages ``/``, ``/map``, ``/incidents``, ``/deployments`` (2 in 8);
- one publisher posting incidents one after another (``POST /api/v1/records``);
- one report sender posting a report to ``POST /api/v1/submissions`` every 0.5 s;
- one peer (a real node app in this process, its own store and key) running a
  sync session with the node every 0.5 s through its federation client.

The targets are issue 13's: the publisher at least 100 writes/s with p99 at
most 100 ms while readers run; ``/api/v1/records?limit=100`` at least 500
requests/s; no report and no sync session fails. With ``--before``, both trees
run back to back on this machine and the ratios (after / before) are printed,
since only figures measured together on a shared machine compare.

``--profile FILE`` runs each node under ``cProfile`` (the event loop's thread)
and writes the stats to FILE (FILE.before and FILE.after with ``--before``) when
it stops, to see where the loop's time goes. It reports and does not assert: 0
when it measured, 1 when it could not.
"""

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from bench import harness
from bench.harness import Table, checked
from federation.sync import PeerRef
from node.app import create_app
from node.datadir import DataDir
from node.state import FEDERATION
from protocol.keys import parse_key_text
from protocol.sealing import ModeratorKey
from tests.factories import incident_body
from tests.nodeproc import NodeProcess, banscan

NETWORK = "banthescan"
LIST = "/api/v1/records?limit=100"
STATS = "/api/v1/stats?group_by=country"
PAGES = ("/", "/map", "/incidents", "/deployments")
REPORT_EVERY_S = SYNC_EVERY_S = 0.5
TARGET_WRITES, TARGET_P99_MS, TARGET_LIST = 100.0, 100.0, 500.0
ROOT = Path(__file__).resolve().parent.parent
PROFILER = """import atexit, cProfile, os
_profile = cProfile.Profile()
_profile.enable()
atexit.register(lambda: _profile.dump_stats(os.environ["BENCH_MIXED_PROFILE"]))
"""
REPORT = {
    "kind": "incident",
    "what_happened": "Officers scanned every face at the march on Fifth Avenue.",
    "occurred_on": "2026-10-03",
    "country": "US",
    "city": "New York",
    "place": "Corner of Fifth Avenue and 42nd Street",
    "technology": "live_frt",
    "category": "protest_surveillance",
    "consent_contact": False,
    "consent_publish": True,
}


@dataclass
class Figures:
    """What one run measured."""

    seconds: float = 0.0
    write_ms: list[float] = field(default_factory=list)
    write_failures: int = 0
    reads: dict[str, int] = field(default_factory=dict)  # completed 200s per kind
    read_ms: dict[str, list[float]] = field(default_factory=dict)
    busy: int = 0  # 503 answers
    read_failures: int = 0
    reports: int = 0
    report_failures: list[str] = field(default_factory=list)
    sessions: int = 0
    session_failures: list[str] = field(default_factory=list)

    def rate(self, kind: str) -> float:
        return self.reads.get(kind, 0) / self.seconds

    def writes(self) -> float:
        return len(self.write_ms) / self.seconds

    def p(self, values: Sequence[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else float("nan")


class Load:
    """The clients of one run; each loop stops when ``deadline`` passes."""

    def __init__(self, url: str, token: str, ids: list[str], seconds: float) -> None:
        self.url, self.token, self.ids = url, token, ids
        self.figures = Figures(seconds=seconds)
        self.deadline = time.monotonic() + seconds
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    async def reader(self, index: int) -> None:
        kind = ("list", "list", "stats", "record", "list", "page", "page", "record")[index % 8]
        rng = random.Random(index)
        while self.running():
            path = {"list": LIST, "stats": STATS, "page": rng.choice(PAGES)}.get(kind) or (
                f"/api/v1/records/{rng.choice(self.ids)}"
            )
            began = time.perf_counter()
            async with self.http.get(self.url + path) as response:
                await response.read()
            if response.status == 200:
                self.figures.reads[kind] = self.figures.reads.get(kind, 0) + 1
                elapsed = (time.perf_counter() - began) * 1000
                self.figures.read_ms.setdefault(kind, []).append(elapsed)
            elif response.status == 503:
                self.figures.busy += 1
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            else:
                self.figures.read_failures += 1

    async def publisher(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        n = 0
        while self.running():
            n += 1
            body = {**incident_body(), "summary": f"Published under load, number {n}."}
            payload = {"kind": "incident", "audience": "public", "body": body}
            began = time.perf_counter()
            async with self.http.post(
                self.url + "/api/v1/records", json=payload, headers=headers
            ) as response:
                await response.read()
            if response.status == 201:
                self.figures.write_ms.append((time.perf_counter() - began) * 1000)
            else:
                self.figures.write_failures += 1

    async def reporter(self) -> None:
        while self.running():
            async with self.http.post(self.url + "/api/v1/submissions", json=REPORT) as response:
                text = await response.text()
            if response.status == 201:
                self.figures.reports += 1
            else:
                self.figures.report_failures.append(f"{response.status} {text[:200]}")
            await asyncio.sleep(REPORT_EVERY_S)

    async def peer(self, peer_app: aiohttp.web.Application, node_key: bytes) -> None:
        client = peer_app[FEDERATION].client
        target = PeerRef(node_key, self.url)
        while self.running():
            try:
                await client.session(target)
                self.figures.sessions += 1
            except Exception as exc:  # a failed session is a figure, not a crash
                self.figures.session_failures.append(f"{type(exc).__name__}: {exc}"[:200])
            await asyncio.sleep(SYNC_EVERY_S)


async def prepare(work: Path, env: dict[str, str]) -> tuple[Path, str, DataDir]:
    """A node data directory taking reports, with a publisher token and an admitted peer."""
    data = work / "node"
    init = ["init", "--data-dir", str(data), "--network", NETWORK]
    node_key = checked(banscan(*init, env=env), "banscan init").strip().splitlines()[-1]
    token = checked(
        banscan(
            "token",
            "create",
            "--data-dir",
            str(data),
            "--role",
            "publisher",
            "--label",
            "bench",
            env=env,
        ),
        "banscan token create",
    ).strip()
    peer = DataDir(work / "peer")
    peer_key = peer.init(NETWORK, [node_key])
    # Through the tree's own CLI, whose config it reads: trees may differ in settings.
    admit = ["members", "admit", peer_key.text, "--role", "chapter", "--name", "bench peer"]
    checked(banscan(*admit, "--data-dir", str(data), env=env), "banscan members admit")
    moderator = ModeratorKey.generate().public.text
    add = ["moderators", "add", moderator, "--label", "bench", "--data-dir", str(data)]
    checked(banscan(*add, env=env), "banscan moderators add")
    return data, token, peer


async def seed(url: str, token: str, count: int) -> list[str]:
    ids: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:

        async def one(n: int) -> None:
            body = {**incident_body(), "summary": f"Seeded record number {n}."}
            payload = {"kind": "incident", "audience": "public", "body": body}
            async with http.post(url + "/api/v1/records", json=payload, headers=headers) as answer:
                if answer.status != 201:
                    raise RuntimeError(f"seeding failed: {answer.status} {await answer.text()}")
                ids.append((await answer.json())["id"])

        for start in range(0, count, 8):
            await asyncio.gather(*(one(n) for n in range(start, min(count, start + 8))))
    return ids


async def run_tree(tree: Path, args: argparse.Namespace, profile: str | None) -> Figures:
    env = {
        "PYTHONPATH": str(tree),
        "BANSCAN_LOG_LEVEL": "warning",
        "BANSCAN_SUBMISSIONS_PER_CLIENT_PER_HOUR": "10000",
        "BANSCAN_SUBMISSIONS_PER_HOUR": "1000000",
    }
    with tempfile.TemporaryDirectory(prefix="banscan-mixed-") as tmp, contextlib.chdir(tmp):
        # ``python -m`` puts the working directory first on sys.path: not a source tree.
        work = Path(tmp)
        data, token, peer_dir = await prepare(work, env)
        if profile:
            (work / "sitecustomize.py").write_text(PROFILER)
            env["PYTHONPATH"] = f"{work}{os.pathsep}{tree}"
            env["BENCH_MIXED_PROFILE"] = profile
        node = NodeProcess(data, env)
        peer_server = TestServer(
            create_app(peer_dir.load_config(), peer_dir.load_key(), peer_dir.database),
            host="127.0.0.1",
        )
        try:
            url = (await asyncio.to_thread(node.wait_serving)).rstrip("/")
            await peer_server.start_server()
            ids = await seed(url, token, args.seed)
            node_key = parse_key_text(DataDir(data).load_key().text)
            load = Load(url, token, ids, args.seconds)
            try:
                await asyncio.gather(
                    *(load.reader(i) for i in range(args.readers)),
                    load.publisher(),
                    load.reporter(),
                    load.peer(peer_server.app, node_key),
                )
            finally:
                await load.http.close()
            return load.figures
        finally:
            await peer_server.close()
            await asyncio.to_thread(node.stop)


# --- report ------------------------------------------------------------------------------


TABLE = Table(measure=44, value=12, target=12)
row = TABLE.row


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(name: str, f: Figures) -> list[str]:
    p99 = f.p(f.write_ms, 99)
    list_ms = f.read_ms.get("list", [])
    lines = [f"{name}:", *TABLE.head()]
    lines.append(
        row(
            "publisher writes/s",
            f"{f.writes():.1f}",
            f">= {TARGET_WRITES:.0f}",
            verdict(f.writes() >= TARGET_WRITES),
        )
    )
    lines.append(
        row(
            "publisher p99 ms (p50)",
            f"{p99:.1f} ({f.p(f.write_ms, 50):.1f})",
            f"<= {TARGET_P99_MS:.0f}",
            verdict(p99 <= TARGET_P99_MS),
        )
    )
    lines.append(
        row(
            "GET records?limit=100 req/s",
            f"{f.rate('list'):.1f}",
            f">= {TARGET_LIST:.0f}",
            verdict(f.rate("list") >= TARGET_LIST),
        )
    )
    lines.append(row("  its p50 ms", f"{f.p(list_ms, 50):.1f}"))
    lines.append(row("GET stats req/s", f"{f.rate('stats'):.1f}"))
    lines.append(row("GET records/{id} req/s", f"{f.rate('record'):.1f}"))
    lines.append(row("GET site pages req/s", f"{f.rate('page'):.1f}"))
    lines.append(row("reads answered 503 busy", str(f.busy)))
    lines.append(
        row("reads failed otherwise", str(f.read_failures), "0", verdict(not f.read_failures))
    )
    lines.append(row("writes failed", str(f.write_failures), "0", verdict(not f.write_failures)))
    lines.append(
        row(
            "reports sent (failed)",
            f"{f.reports} ({len(f.report_failures)})",
            "0 failed",
            verdict(not f.report_failures),
        )
    )
    lines.append(
        row(
            "sync sessions (failed)",
            f"{f.sessions} ({len(f.session_failures)})",
            "0 failed",
            verdict(not f.session_failures),
        )
    )
    lines += [f"  report failure: {text}" for text in f.report_failures[:3]]
    lines += [f"  session failure: {text}" for text in f.session_failures[:3]]
    return lines


def ratios(before: Figures, after: Figures) -> list[str]:
    def ratio(a: float, b: float) -> str:
        return f"{b / a:.2f}x" if a else "n/a"

    return [
        "after / before:",
        row("publisher writes/s", ratio(before.writes(), after.writes())),
        row("publisher p99 ms", ratio(before.p(before.write_ms, 99), after.p(after.write_ms, 99))),
        row("GET records?limit=100 req/s", ratio(before.rate("list"), after.rate("list"))),
        row("GET stats req/s", ratio(before.rate("stats"), after.rate("stats"))),
        row("GET records/{id} req/s", ratio(before.rate("record"), after.rate("record"))),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mixed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring time per tree")
    parser.add_argument("--readers", type=int, default=50, help="concurrent anonymous readers")
    parser.add_argument("--seed", type=int, default=1000, help="public incidents published first")
    parser.add_argument("--before", type=Path, help="another source tree to measure first")
    parser.add_argument("--profile", help="write cProfile stats of the nodes to this file")
    args = parser.parse_args(argv)
    if args.profile:
        args.profile = os.path.abspath(args.profile)  # the node runs in another directory
    return args


async def measure(args: argparse.Namespace) -> int:
    before = None
    if args.before is not None:
        before = await run_tree(args.before.resolve(), args, profiled(args.profile, "before"))
        print("\n".join(report(f"before ({args.before})", before)), flush=True)
    after = await run_tree(ROOT, args, profiled(args.profile, "after" if before else ""))
    print("\n".join(report(f"after ({ROOT})" if before else str(ROOT), after)), flush=True)
    if before is not None:
        print("\n".join(ratios(before, after)))
    return 0


def profiled(path: str | None, label: str) -> str | None:
    return f"{path}.{label}" if path and label else path


def main(argv: Sequence[str] | None = None) -> int:
    return harness.main("mixed", parse_args, measure, argv)


if __name__ == "__main__":
    raise SystemExit(main())
