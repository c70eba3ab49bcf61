"""The site benchmark's load: ``wrk`` on loopback against one route for a while, with a
publisher publishing all along, and the node's CPU over the same time.

``wrk`` (Debian's ``wrk`` package) keeps its connections alive and cycles through the
given addresses with a small Lua script, one address after another. Beside it, a
publisher posts one record after another to ``POST /api/v1/records`` (a publisher
token; an incident, then a camera, near New York) and counts what was published and
what failed. Every write changes the database, so the node's cached answers go stale
and are recomputed (or, while readers queue, served up to ``reads.max_age_s`` old,
tiles up to ``[site] map_max_age_s``, as ``node/reads.py`` describes): this is the
load the issue asks for, not a cache alone.
When ``wrk`` is not installed the load is skipped and the report says so.
"""

import asyncio
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.harness import proc_cpu_seconds
from tests.factories import deployment_body, incident_body

LATENCY = ("--latency", "-s")  # latency percentiles; the script follows
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
SCRIPT = """local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


@dataclass(slots=True)
class Publisher:
    """Publishes records until stopped, in its own thread and event loop."""

    url: str
    token: str
    published: int = 0
    failures: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    async def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            n = 0
            while not self._stop.is_set():
                n += 1
                if n % 2:
                    body = {**incident_body(), "summary": f"Published under load, number {n}."}
                    payload = {"kind": "incident", "audience": "public", "body": body}
                else:
                    body = deployment_body(lat_e7=407_580_000 + n * 97, lon_e7=-739_855_000)
                    payload = {"kind": "deployment", "audience": "public", "body": body}
                began = time.perf_counter()
                try:
                    async with http.post(self.url + "/api/v1/records", json=payload) as answer:
                        text = await answer.text()
                    if answer.status == 201:
                        self.published += 1
                        self.latencies_ms.append((time.perf_counter() - began) * 1000)
                    else:
                        self.failures.append(f"{answer.status} {text[:200]}")
                except aiohttp.ClientError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}"[:200])


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests_per_s: float
    requests: int
    errors: int  # non-2xx/3xx answers and socket errors
    p50_ms: float
    p99_ms: float
    published: int
    publish_failures: list[str]
    publish_p99_ms: float
    node_cores: float
    seconds: float
    error_detail: str = ""  # wrk's own lines: which answers, which socket errors (timeouts)


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def parse_wrk(output: str) -> tuple[float, int, int, float, float]:
    """Requests/s, requests, errors, p50 and p99 latency (ms) from ``wrk --latency``."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    for socket in re.findall(r"Socket errors: (.*)", output):
        errors += sum(int(n) for n in re.findall(r"\d+", socket))
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    return (
        rate,
        total,
        errors,
        _ms(p50.group(1)) if p50 else float("nan"),
        _ms(p99.group(1)) if p99 else float("nan"),
    )


def run_load(
    url: str,
    pid: int,
    token: str | None,
    paths: list[str],
    seconds: int,
    connections: int,
    threads: int,
) -> LoadResult:
    """``wrk`` over ``paths`` for ``seconds`` while a publisher publishes (none without a
    ``token``: a comparison)."""
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed")
    with tempfile.TemporaryDirectory(prefix="banscan-site-wrk-") as tmp:
        script = Path(tmp) / "paths.lua"
        script.write_text(SCRIPT % ", ".join(f'"{p}"' for p in paths))
        publisher = Publisher(url, token or "")
        if token:
            publisher.start()
        cpu, began = proc_cpu_seconds(pid), time.perf_counter()
        command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", *LATENCY]
        try:
            done = subprocess.run(
                [*command, str(script), url],
                capture_output=True,
                text=True,
                timeout=seconds + 60,
                check=False,
            )
        finally:
            publisher.stop()
        wall = time.perf_counter() - began
        cores = (proc_cpu_seconds(pid) - cpu) / wall
    if done.returncode != 0 or "Requests/sec" not in done.stdout:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-500:]}")
    rate, total, errors, p50, p99 = parse_wrk(done.stdout)
    publish = sorted(publisher.latencies_ms)
    return LoadResult(
        rate,
        total,
        errors,
        p50,
        p99,
        publisher.published,
        publisher.failures,
        publish[min(len(publish) - 1, int(0.99 * len(publish)))] if publish else float("nan"),
        cores,
        wall,
        "; ".join(re.findall(r"Non-2xx or 3xx responses: \d+|Socket errors: .*", done.stdout)),
    )
