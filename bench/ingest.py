"""Ingest benchmark: signed records through ``POST /api/v1/records/import`` on a real node.

Run from the repository root::

    python -m bench.ingest                      # 100,000 records, batches of 500
    python -m bench.ingest --records 10000      # a quick run

It generates signed ``incident`` records of about 1 KiB from 50 origins (on
all cores; timed separately), measures raw Ed25519 verification on this
machine, then for each client count starts a fresh node (``banscan init``,
``banscan token create --role publisher``, ``banscan run --port 0`` on
127.0.0.1 in a temporary data directory), posts every batch as
``application/msgpack`` and checks that each answer is 200 with the whole
batch accepted. It prints records per second and the node's peak RSS
(``VmHWM``) next to the targets in issue 2.

It reports and does not assert: the exit status is 0 even when a target is
missed, 1 only when the benchmark itself could not run (a node failed to
start, or a batch was not accepted), 2 for bad arguments.
"""

import argparse
import contextlib
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.bindings
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bench import harness
from bench.harness import (
    Table,
    admit,
    create_token,
    init_node,
    proc_cpu_seconds,
    proc_status,
    stop_node,
)
from bench.ingestdata import NETWORK, ORIGINS, Corpus, generate, origin_label, streams
from protocol.envelope import decode_envelope
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, encode_batch, verify_record
from tests.factories import seeded_key
from tests.nodeproc import NodeProcess

IMPORT_PATH = "/api/v1/records/import"
TARGET_RATE = 5_000
AIM_RATE = 10_000
MAX_RSS_MIB = 200
VERIFY_ROUNDS = 20_000


# --- raw verification rates --------------------------------------------------------------


def rate(count: int, run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return count / (time.perf_counter() - started)


def verify_rates(records: Sequence[SignedRecord], rounds: int) -> list[tuple[str, float]]:
    sample = [records[i % len(records)] for i in range(rounds)]
    origins = [decode_envelope(r.envelope_bytes).origin for r in sample]
    triples = [(o, r.envelope_bytes, r.signature) for o, r in zip(origins, sample, strict=True)]
    keys = {o: Ed25519PublicKey.from_public_bytes(o) for o in set(origins)}

    def cryptography_verify() -> None:
        for origin, message, signature in triples:
            keys[origin].verify(signature, message)

    def nacl_verify(part: Sequence[tuple[bytes, bytes, bytes]]) -> None:
        for origin, message, signature in part:
            nacl.bindings.crypto_sign_open(signature + message, origin)

    def full_verify(part: Sequence[SignedRecord]) -> None:
        for record in part:
            verify_record(record, network_id=NETWORK, limits=DEFAULT_LIMITS)

    def threads(work: Callable[[Sequence[Any]], None], items: Sequence[Any]) -> None:
        half = len(items) // 2
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(work, (items[:half], items[half:])))

    return [
        ("cryptography Ed25519 verify, 1 thread", rate(rounds, cryptography_verify)),
        ("PyNaCl Ed25519 verify, 1 thread", rate(rounds, lambda: nacl_verify(triples))),
        ("PyNaCl Ed25519 verify, 2 threads", rate(rounds, lambda: threads(nacl_verify, triples))),
        ("verify_record (full check), 1 thread", rate(rounds, lambda: full_verify(sample))),
        (
            "verify_record (full check), 2 threads",
            rate(rounds, lambda: threads(full_verify, sample)),
        ),
    ]


# --- ingesting through a node ------------------------------------------------------------


@dataclass(slots=True)
class Client:
    batches: list[tuple[bytes, int]]
    accepted: int = 0
    latencies: list[float] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class IngestRun:
    clients: int
    records: int
    accepted: int
    seconds: float
    idle_rss_kib: int
    peak_rss_kib: int
    node_cpu_s: float
    db_bytes: int
    latencies: list[float]
    errors: list[str]

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


def post_all(host: str, port: int, token: str, client: Client, start: threading.Barrier) -> None:
    headers = {"Content-Type": "application/msgpack", "Authorization": f"Bearer {token}"}
    conn = http.client.HTTPConnection(host, port, timeout=300)
    try:
        conn.connect()
        start.wait()
        for payload, count in client.batches:
            began = time.perf_counter()
            conn.request("POST", IMPORT_PATH, body=payload, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            client.latencies.append(time.perf_counter() - began)
            if response.status != 200:
                client.error = f"HTTP {response.status}: {answer[:400]!r}"
                return
            accepted = json.loads(answer).get("accepted")
            if accepted != count:
                client.error = f"{accepted} of {count} accepted: {answer[:400]!r}"
                return
            client.accepted += count
    except (OSError, http.client.HTTPException, ValueError, threading.BrokenBarrierError) as exc:
        client.error = f"{type(exc).__name__}: {exc}"
        start.abort()
    finally:
        conn.close()


def client_batches(stream: Sequence[SignedRecord], batch_size: int) -> Client:
    """A client with its batches encoded in advance, so that encoding is not timed."""
    parts = [stream[i : i + batch_size] for i in range(0, len(stream), batch_size)]
    return Client([(encode_batch(list(part)), len(part)) for part in parts])


@dataclass(frozen=True, slots=True)
class Timed:
    """What was measured on the node while the clients posted."""

    seconds: float
    idle_rss_kib: int
    peak_rss_kib: int
    node_cpu_s: float


def post_concurrently(node: NodeProcess, token: str, clients: Sequence[Client]) -> Timed:
    """Post every client's batches from its own thread, all starting together."""
    url = urllib.parse.urlsplit(node.wait_serving())
    if url.hostname != "127.0.0.1" or url.port is None:
        raise RuntimeError(f"the node serves {url.geturl()}, not on 127.0.0.1")
    idle_rss = proc_status(node.pid)["VmRSS"]
    cpu_before = proc_cpu_seconds(node.pid)
    start = threading.Barrier(len(clients) + 1)
    threads = [
        threading.Thread(target=post_all, args=(url.hostname, url.port, token, client, start))
        for client in clients
    ]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        start.wait()  # broken when a client could not connect; it reports why
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    node_cpu = proc_cpu_seconds(node.pid) - cpu_before
    return Timed(seconds, idle_rss, proc_status(node.pid)["VmHWM"], node_cpu)


def ingest(corpus: Corpus, batch_size: int, clients: int) -> IngestRun:
    """Start a fresh node, post every batch from ``clients`` threads, stop the node."""
    per_client = [client_batches(stream, batch_size) for stream in streams(corpus, clients)]
    with tempfile.TemporaryDirectory(prefix="banscan-bench-") as tmp:
        data_dir = Path(tmp) / "node"
        init_node(data_dir, NETWORK)
        admit(data_dir, [seeded_key(origin_label(o)).public_key for o in range(ORIGINS)])
        token = create_token(data_dir, "publisher")
        node = NodeProcess(data_dir)
        try:
            timed = post_concurrently(node, token, per_client)
        finally:
            status = stop_node(node, timeout=60)
        errors = [f"client {i}: {c.error}" for i, c in enumerate(per_client) if c.error]
        if status != 0:
            errors.append(f"node exited with {status}: {''.join(node.stderr_lines)[-2000:]}")
        db_bytes = sum(p.stat().st_size for p in data_dir.glob("banscan.db*"))
    return IngestRun(
        clients=clients,
        records=len(corpus.records),
        accepted=sum(c.accepted for c in per_client),
        seconds=timed.seconds,
        idle_rss_kib=timed.idle_rss_kib,
        peak_rss_kib=timed.peak_rss_kib,
        node_cpu_s=timed.node_cpu_s,
        db_bytes=db_bytes,
        latencies=[t for c in per_client for t in c.latencies],
        errors=errors,
    )


# --- report ------------------------------------------------------------------------------


TABLE = Table(measure=40, value=15, target=22)
row = TABLE.row


def rate_verdict(value: float) -> str:
    if value >= AIM_RATE:
        return "ok, meets the aim"
    return "ok" if value >= TARGET_RATE else "BELOW TARGET"


def report_run(run: IngestRun) -> list[str]:
    label = "1 client" if run.clients == 1 else f"{run.clients} concurrent clients"
    mib = run.peak_rss_kib / 1024
    latencies = sorted(run.latencies) or [0.0]
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    lines = [
        row(
            f"ingest, {label}",
            f"{run.rate:,.0f} rec/s",
            f">= {TARGET_RATE:,} (aim {AIM_RATE:,})",
            rate_verdict(run.rate),
        ),
        row(
            "  node peak RSS (VmHWM)",
            f"{mib:,.1f} MiB",
            f"<= {MAX_RSS_MIB} MB",
            "ok" if mib <= MAX_RSS_MIB else "ABOVE TARGET",
        ),
        row("  records accepted", f"{run.accepted:,}/{run.records:,}", "all", ""),
        row("  wall time", f"{run.seconds:,.1f} s"),
        row(
            "  node CPU (user+sys)",
            f"{run.node_cpu_s:,.1f} s",
            f"= {run.node_cpu_s / run.seconds:.2f} cores" if run.seconds else "",
        ),
        row(
            "  batch latency p50 / p95",
            f"{statistics.median(latencies) * 1000:,.0f} / {p95 * 1000:,.0f} ms",
        ),
        row("  node RSS when idle", f"{run.idle_rss_kib / 1024:,.1f} MiB"),
        row("  database + WAL on disk", f"{run.db_bytes / 2**20:,.1f} MiB"),
    ]
    lines.extend(f"  ERROR {error}" for error in run.errors)
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--records", type=int, default=100_000, help="records (100000)")
    parser.add_argument("--batch", type=int, default=500, help="records per batch (500)")
    parser.add_argument(
        "--clients",
        type=int,
        nargs="+",
        default=[1, 2],
        metavar="N",
        help="concurrent clients per run; one fresh node per value (default: 1 2)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for the generated records")
    args = parser.parse_args(argv)
    if args.records < 1 or not 1 <= args.batch <= DEFAULT_LIMITS.max_batch_records:
        parser.error(f"--records must be >= 1 and --batch 1..{DEFAULT_LIMITS.max_batch_records}")
    if any(not 1 <= n <= ORIGINS for n in args.clients):
        parser.error(f"--clients must be from 1 to {ORIGINS}")
    return args


def measure(args: argparse.Namespace) -> int:
    overrides = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("BANSCAN_"))
    print(
        "node settings: banscan init defaults"
        + (f", overridden by {' '.join(overrides)}" if overrides else ""),
        flush=True,
    )
    corpus = generate(args.records, args.seed)
    print(
        f"generated {len(corpus.records):,} signed incident records "
        f"({corpus.mean_bytes:,.0f} bytes each on average) over {ORIGINS} origins and "
        f"{corpus.feeds} feeds in {corpus.seconds:.1f} s on {corpus.workers} processes",
        flush=True,
    )
    verification = verify_rates(corpus.records, VERIFY_ROUNDS)
    runs = []
    for clients in args.clients:
        print(f"ingesting with {clients} client(s), batches of {args.batch} ...", flush=True)
        runs.append(ingest(corpus, args.batch, clients))

    lines = [
        "",
        *TABLE.head(),
        row(
            "generate and sign (not timed in ingest)",
            f"{corpus.seconds:,.1f} s",
            f"{corpus.workers} processes",
        ),
    ]
    for run in runs:
        lines.extend(report_run(run))
    lines.extend(row(name, f"{value:,.0f} /s") for name, value in verification)
    print("\n".join(lines))
    return 1 if any(run.errors for run in runs) else 0


def main(argv: Sequence[str] | None = None) -> int:
    return harness.main("ingest", parse_args, measure, argv)


if __name__ == "__main__":
    sys.exit(main())
