"""The nodes ``bench/ingest.py`` posts to: one per code tree, grown window by window.

A run may compare code trees side by side (``--code DIR``, such as an export of
``main`` before a change): every tree gets its own fresh node, set up with that
tree's own ``banscan init``, admission and token (so each database holds only the
schema its code knows), and started with that tree's code. The windows of records
are then posted to each node in turn, so a busy moment of the shared machine hits
both trees alike, and each window is measured on the node process itself: its CPU
time (``/proc/PID/stat`` utime + stime) and the bytes it caused to be written
(``/proc/PID/io`` ``write_bytes``), which a noisy machine changes far less than
it changes wall-clock rates.

A node that acknowledges a batch once it is logged and indexes it in the
background (``storage.indexer``) is then polled (``GET /api/v1/node``, its
``index.pending``) until its index has caught up: a window also says when that
was, and the CPU and the writes until then, the honest per-record figures. A
tree whose node has no such object (before the two-stage ingest) has caught up
when it acknowledges.
"""

import contextlib
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import checked, proc_cpu_seconds, proc_status, stop_node
from bench.ingestdata import NETWORK, ORIGINS, origin_label
from protocol.records import SignedRecord, encode_batch
from tests.factories import seeded_key
from tests.nodeproc import ROOT, NodeProcess

IMPORT_PATH = "/api/v1/records/import"
# Run in a code tree's own interpreter: admit the bench's origins with that tree's code.
_ADMIT = (
    "import sys; from pathlib import Path; from bench.harness import admit; "
    "admit(Path(sys.argv[1]), [bytes.fromhex(h) for h in sys.argv[2:]])"
)


@dataclass(slots=True)
class Client:
    batches: list[tuple[bytes, int]]
    accepted: int = 0
    latencies: list[float] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """One stretch of posting to one node, measured on the node process."""

    code: str
    stored: int  # records the node held before it
    records: int
    accepted: int
    seconds: float
    cpu_s: float
    write_bytes: int
    peak_rss_kib: int
    latencies: list[float]
    errors: list[str]
    # Until the index caught up with what was acknowledged (the same as above, for a
    # node that indexes before it acknowledges).
    indexed_seconds: float = 0.0
    indexed_cpu_s: float = 0.0
    indexed_write_bytes: int = 0

    @classmethod
    def joined(cls, parts: Sequence["Window"]) -> "Window":
        """Consecutive windows of one node as one (a large window is posted a chunk at a
        time; the time between chunks, spent signing the next, is not counted)."""
        first = parts[0]
        return cls(
            code=first.code,
            stored=first.stored,
            records=sum(p.records for p in parts),
            accepted=sum(p.accepted for p in parts),
            seconds=sum(p.seconds for p in parts),
            cpu_s=sum(p.cpu_s for p in parts),
            write_bytes=sum(p.write_bytes for p in parts),
            peak_rss_kib=max(p.peak_rss_kib for p in parts),
            latencies=[t for p in parts for t in p.latencies],
            errors=[e for p in parts for e in p.errors],
            indexed_seconds=sum(p.indexed_seconds for p in parts),
            indexed_cpu_s=sum(p.indexed_cpu_s for p in parts),
            indexed_write_bytes=sum(p.indexed_write_bytes for p in parts),
        )

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_record(self) -> float:
        return self.cpu_s * 1e6 / max(1, self.accepted)

    @property
    def write_bytes_per_record(self) -> float:
        return self.write_bytes / max(1, self.accepted)

    @property
    def indexed_rate(self) -> float:
        return self.accepted / self.indexed_seconds if self.indexed_seconds else 0.0

    @property
    def indexed_cpu_us_per_record(self) -> float:
        return self.indexed_cpu_s * 1e6 / max(1, self.accepted)

    @property
    def indexed_write_bytes_per_record(self) -> float:
        return self.indexed_write_bytes / max(1, self.accepted)


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


def write_bytes(pid: int) -> int:
    """Bytes the process caused to be written to storage so far (``/proc/PID/io``)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == "write_bytes":
            return int(value)
    raise RuntimeError(f"no write_bytes in /proc/{pid}/io")


def _in_tree(code: Path, *args: str) -> str:
    """Run ``python ARGS`` with ``code``'s modules first on the path (``-m``/``-c`` put the
    working directory first); its standard output, or RuntimeError."""
    result = subprocess.run(
        [sys.executable, *args], cwd=code, capture_output=True, text=True, timeout=300, check=False
    )
    return checked(result, f"python {' '.join(args[:3])} in {code}")


class BenchNode:
    """A fresh node of one code tree in a temporary directory, serving until closed."""

    def __init__(self, code: Path) -> None:
        self.code = code
        self.label = "this tree" if code.resolve() == ROOT else str(code)
        self._tmp = tempfile.TemporaryDirectory(prefix="banscan-bench-")
        self.data_dir = Path(self._tmp.name) / "node"
        self.stored = 0
        cli = ("-m", "node.cli")
        dd = ("--data-dir", str(self.data_dir))
        _in_tree(code, *cli, "init", *dd, "--network", NETWORK)
        keys = [seeded_key(origin_label(o)).public_key.hex() for o in range(ORIGINS)]
        _in_tree(code, "-c", _ADMIT, str(self.data_dir), *keys)
        role = ("--role", "publisher", "--label", "bench")
        self.token = _in_tree(code, *cli, "token", "create", *dd, *role).strip()
        self.node = NodeProcess(self.data_dir, cwd=code)
        url = urllib.parse.urlsplit(self.node.wait_serving())
        if url.hostname != "127.0.0.1" or url.port is None:
            raise RuntimeError(f"the node serves {url.geturl()}, not on 127.0.0.1")
        self.host, self.port = url.hostname, url.port

    def post(self, streams: Sequence[Sequence[SignedRecord]], batch_size: int) -> Window:
        """Post each stream from its own client thread, all starting together."""
        clients = [client_batches(stream, batch_size) for stream in streams]
        pid = self.node.pid
        cpu_before, written_before = proc_cpu_seconds(pid), write_bytes(pid)
        start = threading.Barrier(len(clients) + 1)
        threads = [
            threading.Thread(target=post_all, args=(self.host, self.port, self.token, c, start))
            for c in clients
        ]
        for thread in threads:
            thread.start()
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait()  # broken when a client could not connect; it reports why
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
        cpu_acked, written_acked = proc_cpu_seconds(pid), write_bytes(pid)
        self.wait_indexed()
        indexed_seconds = time.perf_counter() - began
        window = Window(
            code=self.label,
            stored=self.stored,
            records=sum(len(s) for s in streams),
            accepted=sum(c.accepted for c in clients),
            seconds=seconds,
            cpu_s=cpu_acked - cpu_before,
            write_bytes=written_acked - written_before,
            peak_rss_kib=proc_status(pid)["VmHWM"],
            latencies=[t for c in clients for t in c.latencies],
            errors=[f"client {i}: {c.error}" for i, c in enumerate(clients) if c.error],
            indexed_seconds=indexed_seconds,
            indexed_cpu_s=proc_cpu_seconds(pid) - cpu_before,
            indexed_write_bytes=write_bytes(pid) - written_before,
        )
        self.stored += window.accepted
        return window

    def wait_indexed(self, timeout: float = 3600) -> None:
        """Poll the node until its index holds every record acknowledged (every 20 ms)."""
        deadline = time.monotonic() + timeout
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            while True:
                conn.request("GET", "/api/v1/node")
                index = json.loads(conn.getresponse().read()).get("index", {})
                if not index.get("pending"):
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the index did not catch up: {index}")
                time.sleep(0.02)
        finally:
            conn.close()

    def db_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.data_dir.glob("banscan.db*"))

    def close(self) -> list[str]:
        """Stop the node and remove its directory; any error its exit shows."""
        try:
            status = stop_node(self.node, timeout=120)
            if status != 0:
                return [f"node exited with {status}: {''.join(self.node.stderr_lines)[-2000:]}"]
            return []
        finally:
            self._tmp.cleanup()
