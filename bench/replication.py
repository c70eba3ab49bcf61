"""Replication benchmark: a fresh node pulls 10,000 signed records from a peer over HTTP.

Run from the repository root::

    python -m bench.replication                   # 10,000 records of about 1 KiB
    python -m bench.replication --records 2000    # a quick run

It generates signed ``incident`` records of about 1 KiB from 50 origins (the
generator of ``bench/ingest.py``; not timed), then starts two real node
processes on 127.0.0.1, each in a temporary data directory:

- the **source** (``banscan init``: its own steward). Its key signs one
  ``membership`` record per origin and one for the fresh node (as a
  coordinator, so it may hold every audience); these and then the records go
  in through ``POST /api/v1/records/import``, so every record is accepted,
  none quarantined.
- the **fresh** node (``banscan init --steward SOURCE``), whose only
  ``[[peers]]`` entry is the source, reached through a counting TCP proxy on
  127.0.0.1 that this process runs.

The clock starts when the fresh node's process is spawned and stops when its
database holds every record (polled read-only, every 10 ms, with a deadline).
Wire bytes are everything the proxy carried in both directions: HTTP request
and status lines, headers (RFC 9421 signatures, content digests) and bodies.
The fresh node's own session counters (bodies only) are printed beside them.
Raw size is the sum of envelope, signature and body bytes of the records.

With ``--quarantined`` it also runs ``bench/quarantined.py``: the bytes that
five sessions send of 1,000 records waiting in a node's quarantine, beside
the figure measured before such records crossed the wire only once.

It reports and does not assert: the exit status is 0 even when a target is
missed, 1 only when the benchmark itself could not run, 2 for bad arguments.
"""

import argparse
import asyncio
import contextlib
import datetime
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from bench import harness, quarantined
from bench.harness import Table, checked, proc_cpu_seconds
from bench.ingest import NETWORK, ORIGINS, generate, origin_label
from node.datadir import DataDir
from protocol.keys import NodeKey, key_text
from protocol.records import SignedRecord, encode_batch, sign_record
from tests.factories import seeded_key
from tests.nodeproc import NodeProcess, banscan

TARGET_SECONDS = 2.0
TARGET_RATIO = 1.15
IMPORT_BATCH = 500
POLL_S = 0.01
FEDERATION_EVENTS = {"synced", "peer failed", "released quarantined records", "sync round failed"}


# --- a TCP proxy that counts bytes ------------------------------------------------------


class CountingProxy:
    """Forwards TCP connections on 127.0.0.1 to a target port and counts the bytes."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.upstream = 0  # client to server: requests
        self.downstream = 0  # server to client: answers
        self.connections = 0
        # When set, the next bytes each way are kept (from empty), for a look at headers.
        self.capture = False
        self.sent = bytearray()
        self.received = bytearray()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def total(self) -> int:
        return self.upstream + self.downstream

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        for task in (
            asyncio.create_task(self._pipe(reader, up_writer, up=True), name="proxy-up"),
            asyncio.create_task(self._pipe(up_reader, writer, up=False), name="proxy-down"),
        ):
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, up: bool
    ) -> None:
        try:
            while chunk := await reader.read(1 << 16):
                if self.capture:
                    self.capture = False
                    self.sent.clear()
                    self.received.clear()
                if up:
                    self.upstream += len(chunk)
                    self.sent += chunk[: 1 << 14]
                else:
                    self.downstream += len(chunk)
                    self.received += chunk[: 1 << 14]
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


class ProxyThread:
    """A :class:`CountingProxy` on its own event loop in a thread, for synchronous code."""

    def __init__(self, target_port: int) -> None:
        self.proxy = CountingProxy(target_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="counting-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the counting proxy did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self.port = self._loop.run_until_complete(self.proxy.start())
        self._ready.set()
        self._loop.run_forever()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


# --- setting up the two nodes -----------------------------------------------------------


def raw_bytes(records: Sequence[SignedRecord]) -> int:
    return sum(len(r.envelope_bytes) + len(r.signature) + len(r.body or b"") for r in records)


def memberships(steward: NodeKey, subjects: Sequence[tuple[bytes, str]]) -> list[SignedRecord]:
    """Admissions signed by ``steward``, seqs 1.. of its public feed."""
    now = time.time_ns() // 1_000_000
    return [
        sign_record(
            steward,
            network_id=NETWORK,
            audience="public",
            seq=seq,
            created_ms=now + seq,
            kind="membership",
            body=msgpack.packb(
                {
                    "subject": key_text(subject),
                    "action": "admit",
                    "role": role,
                    "name": f"bench member {seq}",
                },
                use_bin_type=True,
            ),
        )
        for seq, (subject, role) in enumerate(subjects, start=1)
    ]


def post_batches(url: str, token: str, records: Sequence[SignedRecord]) -> None:
    for start in range(0, len(records), IMPORT_BATCH):
        part = records[start : start + IMPORT_BATCH]
        request = urllib.request.Request(
            url.rstrip("/") + "/api/v1/records/import",
            data=encode_batch(list(part)),
            headers={"Content-Type": "application/msgpack", "Authorization": f"Bearer {token}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            answer = json.loads(response.read())
        if answer.get("accepted") != len(part):
            raise RuntimeError(f"the source accepted {answer.get('accepted')} of {len(part)}")


def init_node(data_dir: Path, *stewards: str) -> str:
    """``banscan init``; the new node's key text."""
    args = ["init", "--data-dir", str(data_dir), "--network", NETWORK]
    for steward in stewards:
        args += ["--steward", steward]
    return checked(banscan(*args), "banscan init").strip().splitlines()[-1]


def token(data_dir: Path, role: str) -> str:
    return checked(
        banscan("token", "create", "--data-dir", str(data_dir), "--role", role, "--label", "bench"),
        "banscan token create",
    ).strip()


def held_incidents(database: Path) -> int:
    """Incident records the node holds, read from its database without writing."""
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT COUNT(*) FROM records WHERE kind = 'incident'").fetchone()
        return int(row[0])
    except sqlite3.OperationalError:  # not created yet, or migrating
        return 0


def peer_stats(url: str, bearer: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url.rstrip("/") + "/api/v1/federation/peers", headers={"Authorization": f"Bearer {bearer}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        peers = json.loads(response.read())["peers"]
    return dict(peers[0]["since_start"] or {}) if peers else {}


@dataclass(frozen=True, slots=True)
class Replication:
    records: int
    held: int
    raw_bytes: int
    seconds_from_spawn: float
    seconds_from_serving: float | None
    wire_up: int
    wire_down: int
    connections: int
    session: dict[str, Any]
    fresh_cpu_s: float
    source_cpu_s: float
    steward_first: bool  # the source's feed sorts before every origin's
    events: list[str]

    @property
    def wire(self) -> int:
        return self.wire_up + self.wire_down


def federation_events(lines: Sequence[str], spawned: float) -> list[str]:
    """The fresh node's sync log lines, as seconds since its spawn."""
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or event.get("event") not in FEDERATION_EVENTS:
            continue
        at = datetime.datetime.fromisoformat(event.pop("timestamp")).timestamp() - spawned
        details = {k: v for k, v in event.items() if k not in ("event", "level", "peer")}
        events.append(f"t={at:6.2f} s  {event['event']}: {json.dumps(details)[:160]}")
    return events


def first_key(below: bytes) -> NodeKey:
    """A fixed-seed key that sorts before ``below``."""
    for attempt in range(1_000_000):
        key = seeded_key(f"banscan-bench-replication-source-{attempt}")
        if key.public_key < below:
            return key
    raise RuntimeError("no key sorts first")


def replace_key(data_dir: DataDir, key: NodeKey) -> NodeKey:
    """Give a node that has not run yet another key (as an operator restoring one would)."""
    with data_dir.key_file.open("wb") as handle:  # keeps the file's mode, 0600
        handle.write(key.to_pem())
    return key


def replicate(
    records: Sequence[SignedRecord],
    timeout_s: float,
    sync_interval_s: int | None,
    *,
    steward_first: bool,
) -> Replication:
    with tempfile.TemporaryDirectory(prefix="banscan-bench-repl-") as tmp:
        source_dir, fresh_dir = Path(tmp) / "source", Path(tmp) / "fresh"
        source_text = init_node(source_dir)
        origins = [seeded_key(origin_label(o)).public_key for o in range(ORIGINS)]
        if steward_first:
            source_text = replace_key(DataDir(source_dir), first_key(min(origins))).text
        init_node(fresh_dir, source_text)
        publisher, analyst = token(source_dir, "publisher"), token(fresh_dir, "analyst")
        steward = DataDir(source_dir).load_key()
        fresh_key = DataDir(fresh_dir).load_key()
        admissions = memberships(
            steward,
            [(o, "chapter") for o in origins] + [(fresh_key.public_key, "coordinator")],
        )
        source = NodeProcess(source_dir)
        proxy: ProxyThread | None = None
        fresh: NodeProcess | None = None
        try:
            source_url = source.wait_serving()
            post_batches(source_url, publisher, admissions)
            post_batches(source_url, publisher, records)
            proxy = ProxyThread(int(source_url.rsplit(":", 1)[1].rstrip("/")))
            with (fresh_dir / "banscan.toml").open("a", encoding="utf-8") as config:
                config.write(
                    f'\n[[peers]]\nurl = "http://127.0.0.1:{proxy.port}"\nkey = "{source_text}"\n'
                )
            source_cpu = proc_cpu_seconds(source.pid)
            database = DataDir(fresh_dir).database
            env = {"BANSCAN_LOG_FORMAT": "json"}
            if sync_interval_s is not None:
                env["BANSCAN_FEDERATION_SYNC_INTERVAL_S"] = str(sync_interval_s)
            spawned = time.time()
            began = time.perf_counter()
            fresh = NodeProcess(fresh_dir, env)
            deadline = began + timeout_s
            held = 0
            tick = threading.Event()  # never set: its wait is the poll interval
            serving_at: float | None = None
            while True:
                held = held_incidents(database)
                now = time.perf_counter()
                if serving_at is None and fresh.url:
                    serving_at = now
                if held >= len(records) or now > deadline:
                    break
                if fresh._proc.poll() is not None:
                    raise RuntimeError(f"the fresh node exited: {''.join(fresh.stderr_lines)}")
                tick.wait(POLL_S)
            seconds = now - began
            fresh_url = fresh.wait_serving()
            session = peer_stats(fresh_url, analyst)
            # The last batch is stored before the session that pulled it reports.
            settle = time.perf_counter() + 10
            while not session.get("sessions") and time.perf_counter() < settle:
                tick.wait(POLL_S)
                session = peer_stats(fresh_url, analyst)
            fresh_cpu = proc_cpu_seconds(fresh.pid)
            source_cpu = proc_cpu_seconds(source.pid) - source_cpu
            result = Replication(
                records=len(records),
                held=held,
                raw_bytes=raw_bytes(records),
                seconds_from_spawn=seconds,
                seconds_from_serving=(
                    now - serving_at if serving_at is not None and serving_at <= now else None
                ),
                wire_up=proxy.proxy.upstream,
                wire_down=proxy.proxy.downstream,
                connections=proxy.proxy.connections,
                session=session,
                fresh_cpu_s=fresh_cpu,
                source_cpu_s=source_cpu,
                steward_first=all(steward.public_key < o for o in origins),
                events=federation_events(fresh.stderr_lines, spawned),
            )
        finally:
            for node in (fresh, source):
                if node is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        node.stop(timeout=30)
                    node.close()
            if proxy is not None:
                proxy.close()
    return result


# --- report ------------------------------------------------------------------------------


TABLE = Table(measure=44, value=16, target=24)
row = TABLE.row


def report(run: Replication) -> list[str]:
    ratio = run.wire / run.raw_bytes
    body_bytes = int(run.session.get("bytes_sent", 0)) + int(run.session.get("bytes_received", 0))
    return [
        *TABLE.head(),
        # The pull starts when the fresh node serves (it syncs with its peers at start);
        # the time before is Python starting and opening the database.
        row(
            "replication time, from the fresh node serving",
            f"{run.seconds_from_serving:,.2f} s" if run.seconds_from_serving else "n/a",
            f"<= {TARGET_SECONDS:g} s",
            "n/a"
            if not run.seconds_from_serving
            else "ok"
            if run.seconds_from_serving <= TARGET_SECONDS
            else "ABOVE TARGET",
        ),
        row(
            "  including the node's start, from its spawn",
            f"{run.seconds_from_spawn:,.2f} s",
        ),
        row(
            "wire bytes (proxy: headers + bodies)",
            f"{run.wire:,} B",
            f"<= {TARGET_RATIO:g} x raw",
            f"{ratio:.3f} x raw: " + ("ok" if ratio <= TARGET_RATIO else "ABOVE TARGET"),
        ),
        row("  requests / answers", f"{run.wire_up:,} / {run.wire_down:,} B"),
        row("  TCP connections", f"{run.connections}"),
        row(
            "  session bodies (fresh node's counters)",
            f"{body_bytes:,} B",
            f"{body_bytes / run.raw_bytes:.3f} x raw",
        ),
        row(
            "  sessions / records pulled",
            f"{run.session.get('sessions')} / {run.session.get('records_pulled')}",
        ),
        row("raw record bytes (envelope+sig+body)", f"{run.raw_bytes:,} B"),
        row(
            "records held by the fresh node",
            f"{run.held:,}/{run.records:,}",
            "all",
            "ok" if run.held >= run.records else "INCOMPLETE",
        ),
        row("CPU (user+sys): fresh / source", f"{run.fresh_cpu_s:.1f} / {run.source_cpu_s:.1f} s"),
        row("reference: PouchDB Server, 10k unsigned docs", "3.4-4.4 s", "about 1.1 MB gzip"),
        row("reference: Nostr, relay to relay via client", "21-24 s"),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.replication",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--records", type=int, default=10_000, help="records (10000)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the generated records")
    parser.add_argument(
        "--sync-interval",
        type=int,
        default=None,
        metavar="S",
        help="the fresh node's [federation] sync_interval_s (default: the node's, 30)",
    )
    parser.add_argument(
        "--steward-first",
        action="store_true",
        help="give the source a key that sorts before every origin's, so the fresh node "
        "learns every admission in its first batch (see bench/README.md)",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="give up after this many seconds (120)"
    )
    parser.add_argument(
        "--quarantined",
        action="store_true",
        help="also measure what repeated sessions send of records the fresh node holds in "
        "its quarantine (bench/quarantined.py), beside the figure before they were skipped",
    )
    args = parser.parse_args(argv)
    if args.records < 1 or args.timeout <= 0:
        parser.error("--records and --timeout must be positive")
    return args


def measure(args: argparse.Namespace) -> int:
    corpus = generate(args.records, args.seed)
    print(
        f"generated {len(corpus.records):,} signed incident records "
        f"({raw_bytes(corpus.records) / len(corpus.records):,.0f} raw bytes each) over "
        f"{ORIGINS} origins and {corpus.feeds} feeds in {corpus.seconds:.1f} s (not timed)",
        flush=True,
    )
    run = replicate(
        corpus.records, args.timeout, args.sync_interval, steward_first=args.steward_first
    )
    print("\n".join(["", *report(run)]))
    print(
        "\nthe fresh node's sync log (the source's feed sorts "
        + ("before" if run.steward_first else "among")
        + " the origins' feeds):"
    )
    print("\n".join(f"  {event}" for event in run.events))
    if args.quarantined:
        print("\n".join(["", *quarantined.measure(1_000, 5)]))
    if run.held < run.records:
        print(f"ERROR: the fresh node held {run.held} of {run.records} after {args.timeout} s")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return harness.main("replication", parse_args, measure, argv)


if __name__ == "__main__":
    sys.exit(main())
