"""The CSV export before and after a change, in one run: ``python -m bench.query --export-ab TREE``.

On a shared machine a rate measured now and one measured an hour ago compare the
machine's load more than the code. So this starts the benchmark's node (the
``--node-dir`` the query benchmark left, already imported) from another code tree
(``TREE``: a ``git archive`` or worktree of the commit before the change) and from
this checkout in turn, ``--rounds`` times each, streams
``GET /api/v1/export?format=csv&kind=incident`` from each and prints, per run, the
rows per second, the node's CPU time per row (``/proc/PID/stat``, user + system:
what load disturbs least) and the SHA-256 of the answer, which must be the same for
both trees. The load average is printed before and after.
"""

import hashlib
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Table, proc_cpu_seconds, proc_status, stop_node
from bench.querytiming import Client
from tests.nodeproc import NodeProcess

EXPORT_PATH = "/api/v1/export?format=csv&kind=incident"
TABLE = Table(measure=28, value=16, target=16)


@dataclass(frozen=True, slots=True)
class ExportRun:
    rows: int
    seconds: float
    cpu_seconds: float
    sha256: str
    peak_kib: int

    @property
    def cpu_us_per_row(self) -> float:
        return self.cpu_seconds * 1e6 / max(1, self.rows)


def settle(pid: int, timeout: float = 120) -> None:
    """Wait until a node that just started is idle: it warms caches in the background
    (the map's outlines) for a few seconds, which would count as the export's CPU."""
    deadline = time.monotonic() + timeout
    cpu, at = proc_cpu_seconds(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now_cpu, now = proc_cpu_seconds(pid), time.monotonic()
        if now_cpu - cpu < 0.02 * (now - at):
            return
        cpu, at = now_cpu, now
    raise RuntimeError(f"the node was still busy {timeout:.0f} s after it started")


def export_once(data_dir: Path, token: str, code: Path | None) -> ExportRun:
    """Start the node from ``code`` (this checkout when None), export once, stop it."""
    node = NodeProcess(data_dir, cwd=code)
    try:
        client = Client(node.wait_serving(timeout=600), token)
        try:
            settle(node.pid)
            cpu_before = proc_cpu_seconds(node.pid)
            began = time.perf_counter()
            client.conn.request("GET", EXPORT_PATH, headers=client.headers)
            response = client.conn.getresponse()
            if response.status != 200:
                raise RuntimeError(f"{code or 'this checkout'}: HTTP {response.status}")
            digest, lines = hashlib.sha256(), 0
            while chunk := response.read(1 << 16):
                digest.update(chunk)
                lines += chunk.count(b"\n")
            seconds = time.perf_counter() - began
            cpu = proc_cpu_seconds(node.pid) - cpu_before
        finally:
            client.close()
        peak = proc_status(node.pid)["VmHWM"]
    finally:
        stop_node(node, timeout=120)
    # Generated values hold no newlines: lines less the header and HXL rows are rows.
    return ExportRun(max(0, lines - 2), seconds, cpu, digest.hexdigest(), peak)


def compare(data_dir: Path, token: str, before: Path, rounds: int) -> int:
    """Alternate ``before``'s code and this checkout's; print each run and the medians."""
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    lines = ["", *TABLE.head()]
    runs: dict[str, list[ExportRun]] = {"before": [], "after": []}
    for number in range(1, rounds + 1):
        for side, code in (("before", before), ("after", None)):
            run = export_once(data_dir, token, code)
            runs[side].append(run)
            line = TABLE.row(
                f"{side}, round {number}",
                f"{run.cpu_us_per_row:.2f} µs/row",
                f"{run.rows / run.seconds:,.0f} rows/s",
                f"{run.rows:,} rows, peak RSS {run.peak_kib / 1024:,.0f} MiB, "
                f"sha256 {run.sha256[:16]}",
            )
            print(line, flush=True)
            lines.append(line)
    cpu = {side: statistics.median(r.cpu_us_per_row for r in rs) for side, rs in runs.items()}
    lines.append(
        TABLE.row(
            "median node CPU per row",
            f"{cpu['before']:.2f} -> {cpu['after']:.2f}",
            f"x{cpu['after'] / cpu['before']:.2f}",
            f"= {1e6 / cpu['after']:,.0f} rows per CPU-second after",
        )
    )
    same = len({r.sha256 for rs in runs.values() for r in rs}) == 1
    lines.append(TABLE.row("answers", "identical" if same else "DIFFERENT", "SHA-256"))
    lines.append(f"  load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\n".join(lines))
    return 0 if same else 1
