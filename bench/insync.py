"""In-sync check benchmark: what a session costs when two nodes already hold the same records.

Run from the repository root::

    python -m bench.insync                              # 1,000 feeds of 100 records
    python -m bench.insync --feeds 100 --per-feed 50    # a quick run

It signs ``--per-feed`` small ``incident`` records for each of ``--feeds``
origins, one feed each (seven in ten ``public``, the rest ``network``), and
membership records signed by a steward key that admit every origin and the
second node (as a coordinator). All of it goes through the real ingest path
(:func:`storage.ingest.ingest_batch`, batches of 500) into one SQLite store;
the file is then copied, so the two nodes are in sync by construction. The
steward's key is the first node's key. Generation and loading are not timed.

Then it measures sessions of the second node with the first:

- **in memory**: real stores, :class:`~federation.service.SyncService` and
  :class:`~federation.sync.SyncClient` over
  :class:`~federation.sync.LocalTransport`; bytes are the msgpack request and
  answer bodies (the session report);
- **over HTTP**: both stores served by the real node app (``create_app``) on
  127.0.0.1, the session run by the node's own client through
  :class:`~federation.transport.HttpTransport` (RFC 9421 signed both ways),
  through a counting TCP proxy, so bytes include the request line, status line
  and every header.

It reports and does not assert: the exit status is 0 even when a target is
missed, 1 only when the benchmark itself could not run, 2 for bad arguments.
"""

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import msgpack
import structlog
from aiohttp.test_utils import TestServer

from bench import harness
from bench.harness import Table
from bench.proxy import CountingProxy
from federation.service import SyncService
from federation.sync import LocalTransport, PeerRef, SessionReport, SyncClient
from federation.verifier import Verifier
from node.app import create_app
from node.config import Config, NetworkSection
from node.state import FEDERATION
from protocol.keys import NodeKey, key_text
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, sign_record
from storage.classify import Outcome
from storage.ingest import ingest_batch
from storage.store import Store
from tests.factories import incident_body, seeded_key

NETWORK = "banthescan"
TARGET_ROUND_TRIPS = 1
TARGET_BYTES = 1000  # "at most 1 KB"
BATCH = 500
SESSIONS = 20
CREATED_MS = 1_735_689_600_000
STEWARD = seeded_key("banscan-bench-insync-steward")
SECOND = seeded_key("banscan-bench-insync-second")


def origin_key(index: int) -> NodeKey:
    return seeded_key(f"banscan-bench-insync-origin-{index}")


def audience_of(index: int) -> str:
    return "public" if index % 10 < 7 else "network"


Wire = tuple[bytes, bytes, bytes | None]


def sign_origin_feed(job: tuple[int, int]) -> list[Wire]:
    """Seqs 1..count of one origin's feed. Runs in a worker process."""
    index, count = job
    key = origin_key(index)
    out = []
    for seq in range(1, count + 1):
        body = incident_body(summary=f"Origin {index}, report {seq}: a camera van at a march.")
        record = sign_record(
            key,
            network_id=NETWORK,
            audience=audience_of(index),
            seq=seq,
            created_ms=CREATED_MS + seq * 60_000 + index,
            kind="incident",
            body=msgpack.packb(body, use_bin_type=True),
        )
        out.append((record.envelope_bytes, record.signature, record.body))
    return out


def admissions(subjects: Sequence[tuple[bytes, str]]) -> list[SignedRecord]:
    return [
        sign_record(
            STEWARD,
            network_id=NETWORK,
            audience="public",
            seq=seq,
            created_ms=CREATED_MS + seq,
            kind="membership",
            body=msgpack.packb(
                {"subject": key_text(subject), "action": "admit", "role": role, "name": f"m{seq}"},
                use_bin_type=True,
            ),
        )
        for seq, (subject, role) in enumerate(subjects, start=1)
    ]


async def load(path: Path, feeds: int, per_feed: int) -> tuple[int, float, float]:
    """Build the first node's store; (records, seconds to sign, seconds to ingest)."""
    began = time.perf_counter()
    members = admissions(
        [(SECOND.public_key, "coordinator")]
        + [(origin_key(i).public_key, "chapter") for i in range(feeds)]
    )
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        signed = list(pool.map(sign_origin_feed, [(i, per_feed) for i in range(feeds)]))
    records = members + [SignedRecord(*wire) for feed in signed for wire in feed]
    signing = time.perf_counter() - began
    began = time.perf_counter()
    store = await Store.open(path, synchronous="normal", stewards=frozenset({STEWARD.public_key}))
    verifier = Verifier(NETWORK, DEFAULT_LIMITS)
    try:
        for start in range(0, len(records), BATCH):
            results = await ingest_batch(
                verifier, store.records, records[start : start + BATCH], atomic=True
            )
            if any(r.outcome is not Outcome.ACCEPTED for r in results):
                raise RuntimeError(f"batch at {start} not accepted: {results[0]}")
    finally:
        verifier.close()
        await store.close()
    return len(records), signing, time.perf_counter() - began


def copy_database(source: Path, target: Path) -> None:
    for suffix in ("", "-wal"):  # the WAL is normally checkpointed away at close
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")


@dataclass(frozen=True, slots=True)
class Sessions:
    reports: list[SessionReport]
    seconds: list[float]
    wire: list[int]  # bytes through the proxy per session (HTTP only)
    request: bytes = b""  # the last session's bytes each way (HTTP only)
    answer: bytes = b""

    @property
    def last(self) -> SessionReport:
        return self.reports[-1]


async def in_memory(first: Path, second: Path, count: int) -> Sessions:
    verifier = Verifier(NETWORK, DEFAULT_LIMITS, threads=1)
    stewards = frozenset({STEWARD.public_key})
    stores = [await Store.open(p, synchronous="normal", stewards=stewards) for p in (first, second)]
    try:
        services: dict[bytes, SyncService] = {}
        for key, store in zip((STEWARD, SECOND), stores, strict=True):
            services[key.public_key] = SyncService(store, verifier, key.public_key)
        client = SyncClient(
            services[SECOND.public_key], LocalTransport(SECOND.public_key, services)
        )
        peer = PeerRef(STEWARD.public_key, "memory://first")
        reports, seconds = [], []
        for _ in range(count):
            began = time.perf_counter()
            reports.append(await client.session(peer))
            seconds.append(time.perf_counter() - began)
        return Sessions(reports, seconds, [])
    finally:
        for store in stores:
            await store.close()
        verifier.close()


async def over_http(first: Path, second: Path, count: int) -> Sessions:
    config = Config(network=NetworkSection(id=NETWORK, stewards=[STEWARD.text]))
    servers = [
        TestServer(create_app(config, key, path), host="127.0.0.1")
        for key, path in ((STEWARD, first), (SECOND, second))
    ]
    for server in servers:
        await server.start_server()
    proxy = CountingProxy(servers[0].port or 0)
    try:
        port = await proxy.start()
        client = servers[1].app[FEDERATION].client
        peer = PeerRef(STEWARD.public_key, f"http://127.0.0.1:{port}")
        reports, seconds, wire = [], [], []
        for _ in range(count):
            proxy.capture = True
            before = proxy.total
            began = time.perf_counter()
            reports.append(await client.session(peer))
            seconds.append(time.perf_counter() - began)
            wire.append(proxy.total - before)
        return Sessions(reports, seconds, wire, bytes(proxy.sent), bytes(proxy.received))
    finally:
        await proxy.close()
        for server in servers:
            await server.close()


# --- report ------------------------------------------------------------------------------


TABLE = Table(measure=48, value=14, target=12)
row = TABLE.row


def verdicts(name: str, run: Sessions, size: int) -> list[str]:
    rt = max(r.round_trips for r in run.reports)
    in_sync = all(r.in_sync for r in run.reports)
    ms = statistics.median(run.seconds) * 1000
    return [
        row(
            f"{name}: round trips per session",
            f"{rt}",
            f"{TARGET_ROUND_TRIPS}",
            ("ok" if rt <= TARGET_ROUND_TRIPS else "ABOVE TARGET")
            + ("" if in_sync else " (NOT in sync)"),
        ),
        row(
            f"{name}: bytes per session",
            f"{size:,} B",
            f"<= {TARGET_BYTES:,} B",
            "ok" if size <= TARGET_BYTES else "ABOVE TARGET",
        ),
        row(f"  session time, median of {len(run.seconds)}", f"{ms:,.1f} ms"),
    ]


def header_sizes(raw: bytes) -> list[str]:
    """Each header line of one captured HTTP message with its size, largest first."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    lines = sorted(head, key=len, reverse=True)
    return [f"    {len(line) + 2:>4} B  {line[:70].decode('latin-1')}" for line in lines]


def report(memory: Sessions, http: Sessions) -> list[str]:
    mem = memory.last
    web = http.last
    bodies = web.bytes_sent + web.bytes_received
    wire = max(http.wire)
    return [
        *TABLE.head(),
        *verdicts("in memory (bodies)", memory, mem.bytes_sent + mem.bytes_received),
        row("  request / answer body", f"{mem.bytes_sent} / {mem.bytes_received} B"),
        *verdicts("HTTP (bodies + headers)", http, wire),
        row("  of which bodies", f"{bodies:,} B"),
        row("  of which HTTP framing and headers", f"{wire - bodies:,} B"),
        "",
        "  the last in-sync request, header by header:",
        *header_sizes(http.request),
        "  and its answer:",
        *header_sizes(http.answer),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.insync", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--feeds", type=int, default=1000, help="origins, one feed each (1000)")
    parser.add_argument("--per-feed", type=int, default=100, help="records per feed (100)")
    parser.add_argument(
        "--sessions", type=int, default=SESSIONS, help=f"sessions to time ({SESSIONS})"
    )
    args = parser.parse_args(argv)
    if args.feeds < 1 or args.per_feed < 1 or args.sessions < 1:
        parser.error("--feeds, --per-feed and --sessions must be positive")
    return args


async def run(args: argparse.Namespace) -> int:
    # The node app logs a line per request; only warnings belong in this report.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="banscan-bench-insync-") as tmp:
        first, second = Path(tmp) / "first.db", Path(tmp) / "second.db"
        records, signing, loading = await load(first, args.feeds, args.per_feed)
        copy_database(first, second)
        print(
            f"signed {records:,} records ({args.feeds:,} feeds of {args.per_feed:,} and "
            f"{args.feeds + 1:,} membership records) in {signing:.1f} s; ingested them in "
            f"{loading:.1f} s ({records / loading:,.0f} rec/s); not timed",
            flush=True,
        )
        memory = await in_memory(first, second, args.sessions)
        http = await over_http(first, second, args.sessions)
    print("\n".join(["", *report(memory, http)]))
    fine = all(r.in_sync for r in memory.reports + http.reports)
    if not fine:
        print("ERROR: a session found the nodes out of sync", file=sys.stderr)
    return 0 if fine else 1


def main(argv: Sequence[str] | None = None) -> int:
    return harness.main("in-sync", parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
