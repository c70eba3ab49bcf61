"""What every benchmark shares: how it starts and ends, its result table, and the node
process helpers.

A benchmark module defines ``parse_args`` and a ``measure(args)`` function (plain or
``async``) that prints its report and returns the exit status, and runs as::

    def main(argv: Sequence[str] | None = None) -> int:
        return harness.main("ingest", parse_args, measure, argv)

``harness.main`` prints the banner (the date, the machine and its load average, since
figures from a busy shared machine are only comparable back to back), runs
``measure``, and turns a failure to measure into exit status 1 with an ``ERROR:`` line.
Benchmarks report and do not assert: 0 even when a target is missed, 1 when they could
not measure, 2 for bad arguments (from argparse).

Each result is a row of the table: the measure, the figure measured, and beside it the
target and the verdict (:class:`Table`).
"""

import argparse
import asyncio
import datetime
import os
import platform
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from node.datadir import DataDir, open_node_store
from node.membership import decide
from tests.nodeproc import NodeProcess, banscan

# What stops a benchmark from measuring at all (exit status 1).
FAILURES: tuple[type[BaseException], ...] = (
    RuntimeError,
    TimeoutError,
    OSError,
    subprocess.TimeoutExpired,
    sqlite3.Error,
)

Measure = Callable[[argparse.Namespace], int | Awaitable[int]]


def banner(name: str) -> str:
    return (
        f"banscan {name} benchmark, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC: "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {platform.platform()}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )


def main(
    name: str,
    parse_args: Callable[[Sequence[str] | None], argparse.Namespace],
    measure: Measure,
    argv: Sequence[str] | None = None,
) -> int:
    """Parse the arguments, print the banner, measure; the exit status."""
    args = parse_args(argv)
    print(banner(name), flush=True)
    try:
        result = measure(args)
        return result if isinstance(result, int) else asyncio.run(_awaited(result))
    except FAILURES as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1


async def _awaited(status: Awaitable[int]) -> int:
    return await status


@dataclass(frozen=True, slots=True)
class Table:
    """The report's columns: measure, figure, target, verdict, in these widths."""

    measure: int
    value: int
    target: int

    def row(self, measure: str, value: str, target: str = "", verdict: str = "") -> str:
        return (
            f"  {measure:<{self.measure}} {value:>{self.value}}  {target:<{self.target}} {verdict}"
        )

    def head(self) -> list[str]:
        """The heading row and its rule."""
        width = self.measure + self.value + self.target + 19
        return [self.row("measure", "result", "target", "verdict"), "  " + "-" * width]


# --- node processes ----------------------------------------------------------------------


def init_node(data_dir: Path, network: str, *stewards: str) -> str:
    """``banscan init`` in ``data_dir`` (its own steward unless ``stewards`` are given); the
    new node's key text."""
    args = ["init", "--data-dir", str(data_dir), "--network", network]
    for steward in stewards:
        args += ["--steward", steward]
    return checked(banscan(*args), "banscan init").strip().splitlines()[-1]


def create_token(data_dir: Path, role: str) -> str:
    """A new bearer token with ``role`` on the node in ``data_dir``."""
    return checked(
        banscan("token", "create", "--data-dir", str(data_dir), "--role", role, "--label", "bench"),
        "banscan token create",
    ).strip()


def stop_node(node: NodeProcess, timeout: float) -> int:
    """Stop a node with SIGTERM, killing it if it does not exit within ``timeout``; its exit
    status (-9 when it was killed)."""
    try:
        return node.stop(signal.SIGTERM, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -9
    finally:
        node.close()  # kills it if it is still there, and closes its pipes


def checked(result: subprocess.CompletedProcess[str], what: str) -> str:
    """The standard output of a ``banscan`` command that must succeed."""
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def proc_status(pid: int) -> dict[str, int]:
    """The ``kB`` fields of /proc/<pid>/status (VmRSS, VmHWM, ...), in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            values[name] = int(parts[0])
    return values


def proc_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def admit(data_dir: Path, subjects: Sequence[bytes]) -> None:
    """Admit the bench's origins on a fresh node (its own steward), as ``banscan members
    admit`` does, so that their records are accepted rather than quarantined."""

    async def run() -> None:
        directory = DataDir(data_dir)
        config, key = directory.load_config(), directory.load_key()
        store = await open_node_store(directory.database, config, key.public_key)
        try:
            for n, subject in enumerate(subjects):
                await decide(
                    store,
                    key,
                    subject,
                    "admit",
                    network_id=config.network.id,
                    limits=config.limits.limits(),
                    role="chapter",
                    name=f"bench chapter {n}",
                )
        finally:
            await store.close()

    asyncio.run(run())
