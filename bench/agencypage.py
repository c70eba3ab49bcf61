"""The agency page at the sizes issue 15 names: ``GET /agencies/{id}`` timed on a real node.

``python -m bench.query --agency-page SCALE`` runs this part alone. At scale 1
a node holds 1,000,000 deployments, 100,000 incidents, 50,000 agencies,
50,000 records requests, 100,000 policies and 10,000 actions, from 20
chapters; smaller scales shrink every count alike (0.05 is a quick run).
Records point at agencies with a skew: agency i is chosen with weight
1/(i + 1), so a few agencies have most of the deployments, as real forces do,
and the biggest agency's page (the slow case) is always among those timed.

**The node is built once and kept** in the cache directory
(``$TMPDIR/banscan-bench-cache``) under a name made of the scale, the seed,
:data:`DATASET_VERSION` and the schema (:func:`bench.sitedata.schema`: a
changed or added migration builds it again). Building it: ``banscan init``,
the chapters admitted as members, then their records signed on a process pool
(one job of consecutive records at a time) while this process stores them
through the store directly (``RecordStore.ingest``, the API's write path,
with every index and the stats rollup), in transactions of 2,500. The
signature check is skipped there, as in :mod:`bench.sitedata`: the workers
signed them a moment ago; sizes, canonical envelope, body hash and body
schema are checked as on any ingest.

**What is timed is the page itself**: the node's own application
(:func:`node.app.create_app` on the built data directory, its clock set to
:data:`TODAY`) served by aiohttp's test server in this process, and ``GET
/agencies/{id}`` asked over HTTP for 200 agencies, the biggest among them,
one request each after a warm-up on 10 others. Every URL is asked once, so
the node's answer cache never answers: each time is a cold page (its
queries through :mod:`storage.campaignreads`, the small map, rendering),
plus the HTTP round trip on the loopback. The figure is the p99 against
issue 15's 50 ms.
"""

import asyncio
import datetime
import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any, Final

import msgpack
import structlog
from aiohttp.test_utils import TestClient, TestServer

from bench.harness import admit, init_node
from bench.sitedata import Wire, schema, store_signed
from node.app import create_app
from node.datadir import DataDir
from protocol.keys import NodeKey
from protocol.records import sign_record as sign
from storage.store import Store

TARGET_P99_MS: Final = 50
DATASET_VERSION: Final = 1  # bump when the generator changes, so stale nodes are not reused
FULL: Final = {
    "agency": 50_000,
    "deployment": 1_000_000,
    "incident": 100_000,
    "policy": 100_000,
    "records_request": 50_000,
    "action": 10_000,
}
# The share of each kind's records that point at an agency record.
LINKED: Final = {
    "deployment": 0.3,
    "incident": 0.5,
    "policy": 0.6,
    "records_request": 1.0,
    "action": 0.8,
}
NETWORK: Final = "bench-campaign"
CHAPTERS: Final = 20
CHUNK: Final = 10_000  # records per signing job
BATCH: Final = 2_500  # records per ingest transaction
TODAY: Final = datetime.date(2026, 6, 1)
TODAY_MS: Final = int(
    datetime.datetime.combine(TODAY, datetime.time(12), datetime.UTC).timestamp() * 1000
)
PAGES: Final = 200
WARMUP: Final = 10


def _key(n: int) -> NodeKey:
    return NodeKey.from_seed(hashlib.sha256(f"bench agency chapter {n}".encode()).digest())


def _body(kind: str, rng: random.Random, agency: str | None, n: int) -> dict[str, Any]:
    ref = {"name": f"Agency {n % 997}", **({"record": agency} if agency else {})}
    day = (TODAY - datetime.timedelta(days=rng.randrange(1, 900))).isoformat()
    country = rng.choice(("US", "US", "US", "GB", "CA", "AU"))
    if kind == "agency":
        return {"name": f"Agency {n}", "type": "police", "jurisdiction": {"code": country}}
    if kind == "deployment":
        body: dict[str, Any] = {
            "lat_e7": rng.randrange(-800_000_000, 800_000_000),
            "lon_e7": rng.randrange(-1_700_000_000, 1_700_000_000),
            "country": country,
            "osm": {"man_made": "surveillance"},
        }
        return body | ({"agency": ref} if agency else {})
    if kind == "incident":
        body = {
            "occurred_on": {"date": day, "precision": "day"},
            "country": country,
            "category": "other",
            "technology": {"type": "live_frt"},
            "summary": f"incident {n}",
        }
        return body | ({"agency": ref} if agency else {})
    if kind == "policy":
        body = {
            "jurisdiction": {"code": country},
            "instrument": rng.choice(("ban", "contract", "procurement", "pilot")),
            "status": "not_recorded",
            "dates": {"introduced": day},
        }
        return body | ({"agency": ref} if agency else {})
    if kind == "records_request":
        due = (datetime.date.fromisoformat(day) + datetime.timedelta(days=20)).isoformat()
        status = rng.choice(("submitted", "acknowledged", "completed", "rejected", "processing"))
        return {
            "agency": ref,
            "law": f"{country} FOIA",
            "filed_on": day,
            "subject": f"request {n}",
            "status": status,
            "due_on": due,
        }
    closes = (TODAY + datetime.timedelta(days=rng.randrange(-60, 60))).isoformat()
    return {
        "type": "petition",
        "title": f"action {n}",
        "target": ref,
        "url": "https://example.org/act",
        "jurisdiction": {"code": country},
        "closes_on": closes,
    }


@dataclass(frozen=True, slots=True)
class Job:
    """Records ``first``.. of one kind. Record n is chapter ``n % CHAPTERS``'s seq
    ``n // CHAPTERS + 1``, so jobs stored in order fill every feed without a gap."""

    kind: str
    first: int
    agencies: list[str | None]  # per record: the agency record it points at (hex), if any
    seed: int


def sign_job(job: Job) -> list[Wire]:
    """Sign a job's records; runs in a worker process."""
    rng = random.Random(job.seed)
    keys = [_key(c) for c in range(CHAPTERS)]
    out = []
    for offset, agency in enumerate(job.agencies):
        n = job.first + offset
        record = sign(
            keys[n % CHAPTERS],
            network_id=NETWORK,
            audience="public",
            seq=n // CHAPTERS + 1,
            created_ms=1_760_000_000_000 + n,
            kind=job.kind,
            body=msgpack.packb(_body(job.kind, rng, agency, n), use_bin_type=True),
        )
        assert record.body is not None
        out.append((record.envelope_bytes, record.signature, record.body))
    return out


def counts_at(scale: float) -> dict[str, int]:
    return {kind: max(1, int(count * scale)) for kind, count in FULL.items()}


def plan(counts: dict[str, int], agencies: list[str], seed: int, first: int) -> list[Job]:
    """The jobs of every kind but ``agency``, record numbers from ``first``."""
    rng = random.Random(seed)
    cumulative = list(accumulate(1 / (i + 1) for i in range(len(agencies))))
    jobs: list[Job] = []
    n = first
    for kind, share in LINKED.items():
        chosen = rng.choices(agencies, cum_weights=cumulative, k=counts[kind])
        refs = [agency if rng.random() < share else None for agency in chosen]
        for start in range(0, len(refs), CHUNK):
            part = refs[start : start + CHUNK]
            jobs.append(Job(kind, n, part, seed * 1_000_003 + len(jobs)))
            n += len(part)
    return jobs


def node_path(cache_dir: Path, scale: float, seed: int, hashes: list[str]) -> Path:
    tag = f"{len(hashes)}-{hashlib.sha256(''.join(hashes).encode()).hexdigest()[:8]}"
    return cache_dir / f"agency-v{DATASET_VERSION}-schema{tag}-x{scale:g}-s{seed}"


def build(cache_dir: Path, scale: float, seed: int, workers: int) -> tuple[Path, str]:
    """The cached node for these parameters: kept, upgraded from one built at an older
    schema (a copy, its new migrations run as on a real node's upgrade), or built now;
    how this run got it."""
    hashes = schema()
    path = node_path(cache_dir, scale, seed, hashes)
    if (path / "bench-built").is_file():
        return path, f"cached (built in {float((path / 'bench-built').read_text()):,.0f} s)"
    partial = path.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    older = _upgradable(cache_dir, scale, seed, hashes)
    if older is not None:
        shutil.copytree(older, partial)
        asyncio.run(_migrate(partial))
        (partial / "bench-schema").write_text(json.dumps(hashes) + "\n")
        partial.rename(path)
        return path, f"upgraded from {older.name} in {time.perf_counter() - began:,.0f} s"
    init_node(partial, NETWORK)
    admit(partial, [_key(c).public_key for c in range(CHAPTERS)])
    counts = counts_at(scale)
    agency_jobs = [
        Job("agency", n, [None] * min(CHUNK, counts["agency"] - n), seed * 1_000_003 - n - 1)
        for n in range(0, counts["agency"], CHUNK)
    ]
    with ProcessPoolExecutor(workers) as pool:
        agencies = asyncio.run(
            store_signed(partial, pool.map(sign_job, agency_jobs), NETWORK, "agencies")
        )
        (partial / "bench-agencies.json").write_text(json.dumps(agencies))
        jobs = plan(counts, agencies, seed, counts["agency"])
        signed = pool.map(sign_job, jobs, chunksize=1)
        asyncio.run(store_signed(partial, signed, NETWORK, f"{len(jobs)} jobs"))
    seconds = time.perf_counter() - began
    (partial / "bench-built").write_text(f"{seconds:.1f}\n")
    (partial / "bench-schema").write_text(json.dumps(hashes) + "\n")
    partial.rename(path)
    return path, f"built now in {seconds:,.0f} s, cached"


async def _migrate(path: Path) -> None:
    """Open the node's database once: its new migrations run."""
    store = await Store.open(DataDir(path).database, synchronous="normal")
    await store.close()


def _upgradable(cache_dir: Path, scale: float, seed: int, hashes: list[str]) -> Path | None:
    """The built node of this data set whose migrations are the longest strict prefix of
    today's (one built before a migration was edited is of no use)."""
    best, best_length = None, 0
    for candidate in cache_dir.glob(f"agency-v{DATASET_VERSION}-schema*-x{scale:g}-s{seed}"):
        try:
            built = json.loads((candidate / "bench-schema").read_text())
        except (OSError, ValueError):
            continue
        fits = best_length < len(built) < len(hashes) and built == hashes[: len(built)]
        if fits and (candidate / "bench-built").is_file():
            best, best_length = candidate, len(built)
    return best


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def time_pages(
    path: Path, timed: list[str], warmup: list[str]
) -> tuple[list[float], list[float]]:
    """Milliseconds of ``GET /agencies/{id}`` for each of ``timed``, on the node at
    ``path`` served in this process, after one request for each of ``warmup``: wall
    time, and the CPU time of this process (the node's threads and the client's), which
    a shared machine's other users do not inflate as much."""
    directory = DataDir(path)
    # Not a line per request on the terminal; put back after, for whoever runs this in
    # their own process (tests/test_campaign_bench.py): node.logs.configure_logging
    # would also make every logger keep this level for good.
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    app = create_app(
        directory.load_config(), directory.load_key(), directory.database, clock=lambda: TODAY_MS
    )
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        for agency in warmup:
            await _page(client, agency)
        wall, cpu = [], []
        for agency in timed:
            started, used = time.perf_counter(), time.process_time()
            await _page(client, agency)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - used) * 1000)
        return wall, cpu
    finally:
        await client.close()
        structlog.configure(**saved)


async def _page(client: TestClient[Any, Any], agency: str) -> None:
    # English asked for, as a browser would; no cookie: an anonymous visitor.
    async with client.get(f"/agencies/{agency}", headers={"Accept-Language": "en"}) as answer:
        text = await answer.text()
        if answer.status != 200 or "<main" not in text:
            raise RuntimeError(f"/agencies/{agency} answered {answer.status}")


def run(
    scale: float, seed: int, workers: int, cache_dir: Path, pages: int = PAGES
) -> list[tuple[str, str, str]]:
    """(measure, value, verdict) rows of the agency page benchmark at ``scale``: ``pages``
    agencies' pages timed."""
    path, how = build(cache_dir, scale, seed, workers)
    agencies = json.loads((path / "bench-agencies.json").read_text())
    rng = random.Random(seed + 1)
    chosen = rng.sample(agencies[1:], min(pages + WARMUP, len(agencies) - 1))
    warmup, timed = chosen[:WARMUP], [agencies[0], *chosen[WARMUP:]]
    per_page, cpu = asyncio.run(time_pages(path, timed, warmup))
    p99 = percentile(per_page, 0.99)
    verdict = "ok" if p99 <= TARGET_P99_MS else "ABOVE TARGET"
    held = sum(counts_at(scale).values())
    return [
        ("agency page: the node (setup)", f"{held:,} records", how),
        (
            f"GET /agencies/{{id}}, cold, p50 / p99 of {len(timed)}",
            f"{percentile(per_page, 0.5):,.1f} / {p99:,.1f} ms",
            f"{verdict} (<= {TARGET_P99_MS} ms)",
        ),
        (
            "  CPU time of a page, p50 / p99",
            f"{percentile(cpu, 0.5):,.1f} / {percentile(cpu, 0.99):,.1f} ms",
            f"load average {os.getloadavg()[0]:.1f}",
        ),
        ("  the biggest agency's page", f"{per_page[0]:,.1f} ms", f"scale {scale:g}"),
        ("  the slowest page", f"{max(per_page):,.1f} ms", ""),
    ]


def main(scale: float, seed: int, workers: int = 2, cache_dir: Path | None = None) -> int:
    cache = cache_dir or Path(tempfile.gettempdir()) / "banscan-bench-cache"
    for measure, value, verdict in run(scale, seed, workers, cache):
        print(f"{measure:<52} {value:>22}  {verdict}")
    return 0
