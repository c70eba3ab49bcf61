"""The site benchmark's node: 1,000,000 deployments and 100,000 incidents, all ``public``,
from a dozen chapters, built once and kept on disk.

The bodies come from the query benchmark's generator (``bench/querygen.py``: 53 cities in
25 countries, skewed categories, technologies, deployment statuses, FRT capabilities and
verification, dates from 2018 to 2026 that grow over time). Chapters sign their records
on a process pool, one chunk of one feed's consecutive seqs at a time, while this process
stores them **through the store directly** (``RecordStore.ingest``, the same write path
as the API's, with the stats rollup and every index), in batches as they arrive. The
signature check is skipped there: the records were signed a moment ago by this process's
own workers. Everything else is checked as on ingest (sizes, canonical envelope, body
hash, body schema), and the chapters are admitted members first, so nothing is
quarantined. That takes a few minutes instead of the 6 minutes of signing, then
importing through ``banscan import``.

The node's data directory (``banscan init``'s configuration and key, the database and
the ``bench-publisher`` token file) is kept in the cache directory under a name made of
the counts, the seed, :data:`DATASET_VERSION` and the schema (the number of migrations
and a hash of their text, each node keeping its migrations' hashes in ``bench-schema``),
so a rerun with the same parameters reuses it. When migrations have been added, a copy
of the older node whose migrations are a prefix of today's is upgraded by them, as a
real node's would be, rather than built again; when one was edited, it is built again.
Each run measures a copy (publishing under load adds records).
"""

import asyncio
import datetime
import hashlib
import json
import math
import random
import shutil
import sqlite3
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import msgpack

from bench.harness import admit, checked, create_token, init_node
from bench.querygen import FIRST_DAY, LAST_DAY, NETWORK, NOW_MS, deployment_body, incident_body
from node.config import steward_keys
from node.datadir import DataDir
from protocol.envelope import record_id
from protocol.limits import Limits
from protocol.records import SignedRecord, VerifiedRecord, finish_record, precheck_record
from protocol.records import sign_record as sign
from protocol.sealing import ModeratorKey
from storage.classify import Outcome
from storage.migrations import MIGRATIONS
from storage.store import Store
from tests.factories import seeded_key
from tests.nodeproc import banscan

DATASET_VERSION = 1  # bump when the generator changes, so stale nodes are not reused
CHAPTERS = 12
CHUNK = 5_000  # records per signing job
BATCH = 2_500  # records per ingest transaction
DAY_MS = 86_400_000
DOUBLING_DAYS = 730


Wire = tuple[bytes, bytes, bytes]  # envelope, signature, body


def chapter_label(chapter: int) -> str:
    return f"banscan-site-bench-chapter-{chapter}"


@dataclass(frozen=True, slots=True)
class Job:
    """Seqs ``first_seq``.. of one chapter's public feed."""

    chapter: int
    first_seq: int
    incidents: list[bool]  # one per record: an incident (True) or a deployment
    days: list[int]  # occurred/observed on, days since FIRST_DAY, ascending
    seed: int


def sign_job(job: Job) -> list[Wire]:
    """Sign a job's records; runs in a worker process. Created a few days after the fact."""
    key = seeded_key(chapter_label(job.chapter))
    rng = random.Random(job.seed)
    out = []
    first_ms = int(datetime.datetime(2018, 1, 1, tzinfo=datetime.UTC).timestamp() * 1000)
    for offset, (is_incident, days) in enumerate(zip(job.incidents, job.days, strict=True)):
        day = FIRST_DAY + datetime.timedelta(days=days)
        make = incident_body if is_incident else deployment_body
        body = make(rng, job.chapter, day)
        created_ms = min(first_ms + (days + 3) * DAY_MS + offset, NOW_MS)
        record = sign(
            key,
            network_id=NETWORK,
            audience="public",
            seq=job.first_seq + offset,
            created_ms=created_ms,
            kind="incident" if is_incident else "deployment",
            body=msgpack.packb(body, use_bin_type=True),
        )
        assert record.body is not None
        out.append((record.envelope_bytes, record.signature, record.body))
    return out


def plan(deployments: int, incidents: int, seed: int) -> list[Job]:
    """The signing jobs: chapters of Zipf sizes, dates growing over time, kinds mixed."""
    rng = random.Random(seed)
    count = deployments + incidents
    kinds = [False] * deployments + [True] * incidents
    rng.shuffle(kinds)
    span = (LAST_DAY - FIRST_DAY).days
    growth = math.log(2) / DOUBLING_DAYS
    scale = 2 ** (span / DOUBLING_DAYS) - 1
    chapters = rng.choices(range(CHAPTERS), [1 / (c + 1) for c in range(CHAPTERS)], k=count)
    per_chapter: dict[int, list[tuple[int, bool]]] = {}
    for chapter, is_incident in zip(chapters, kinds, strict=True):
        day = min(span, int(math.log1p(rng.random() * scale) / growth))
        per_chapter.setdefault(chapter, []).append((day, is_incident))
    jobs = []
    for chapter, rows in sorted(per_chapter.items()):
        rows.sort()
        for start in range(0, len(rows), CHUNK):
            part = rows[start : start + CHUNK]
            jobs.append(
                Job(
                    chapter,
                    start + 1,
                    [i for _, i in part],
                    [d for d, _ in part],
                    seed * 1_000_000 + chapter * 1_000 + start // CHUNK,
                )
            )
    return jobs


@dataclass(frozen=True, slots=True)
class SiteNode:
    """A built node's data directory, its publisher token, how long building took, and
    how this run got it (built now, cached, or upgraded from an older schema)."""

    path: Path
    token: str
    seconds: float
    how: str


def schema() -> list[str]:
    """A short hash of each migration's text: which schema a built node has."""
    return [hashlib.sha256(m.encode()).hexdigest()[:12] for m in MIGRATIONS]


def node_path(
    cache_dir: Path, deployments: int, incidents: int, seed: int, hashes: list[str]
) -> Path:
    tag = f"{len(hashes)}-{hashlib.sha256(''.join(hashes).encode()).hexdigest()[:8]}"
    return cache_dir / f"site-v{DATASET_VERSION}-schema{tag}-d{deployments}-i{incidents}-s{seed}"


def build(cache_dir: Path, deployments: int, incidents: int, seed: int, workers: int) -> SiteNode:
    """The cached node for these parameters: kept, upgraded from an older schema's (its
    migrations run, as on a real node's upgrade), or built now."""
    hashes = schema()
    path = node_path(cache_dir, deployments, incidents, seed, hashes)
    how = "cached"
    if not (path / "bench-built").is_file():
        shutil.rmtree(path, ignore_errors=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        found = _upgradable(cache_dir, f"-d{deployments}-i{incidents}-s{seed}", hashes)
        partial = path.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        if found is not None:
            began = time.perf_counter()
            shutil.copytree(found, partial)
            asyncio.run(_migrate(partial))
            how = f"upgraded from {found.name} in {time.perf_counter() - began:,.0f} s"
        else:
            _build(partial, deployments, incidents, seed, workers)
            how = "built now, cached"
        (partial / "bench-schema").write_text(json.dumps(hashes) + "\n")
        partial.rename(path)
    token = (path / "bench-publisher").read_text().strip()
    return SiteNode(path, token, float((path / "bench-built").read_text()), how)


def _upgradable(cache_dir: Path, suffix: str, hashes: list[str]) -> Path | None:
    """The built node of the same data set whose migrations are the longest strict prefix
    of this schema's (a node built before a migration was edited is no use)."""
    best, best_length = None, 0
    for candidate in cache_dir.glob(f"site-v{DATASET_VERSION}-schema*{suffix}"):
        try:
            built = json.loads((candidate / "bench-schema").read_text())
        except (OSError, ValueError):
            continue
        fits = best_length < len(built) < len(hashes) and built == hashes[: len(built)]
        if fits and (candidate / "bench-built").is_file() and _version(candidate) == len(built):
            best, best_length = candidate, len(built)
    return best


def _build(path: Path, deployments: int, incidents: int, seed: int, workers: int) -> None:
    started = time.perf_counter()
    init_node(path, NETWORK)
    admit(path, [seeded_key(chapter_label(c)).public_key for c in range(CHAPTERS)])
    jobs = plan(deployments, incidents, seed)
    with ProcessPoolExecutor(workers) as pool:
        signed = pool.map(sign_job, jobs, chunksize=1)
        asyncio.run(store_signed(path, signed, NETWORK, f"{len(jobs)} jobs"))
    token = create_token(path, "publisher")
    (path / "bench-publisher").write_text(token + "\n")
    (path / "bench-built").write_text(f"{time.perf_counter() - started:.1f}\n")


def _version(path: Path) -> int:
    """The schema version of a node's database (a node started in place by another
    checkout may have been migrated beyond what its ``bench-schema`` says)."""
    conn = sqlite3.connect(f"file:{DataDir(path).database}?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


async def _migrate(path: Path) -> None:
    """Open the node's database once: its migrations run."""
    store = await Store.open(DataDir(path).database, synchronous="normal")
    await store.close()


async def store_signed(
    path: Path, signed: Iterable[list[Wire]], network_id: str, what: str
) -> list[str]:
    """Store each job's signed records in order, through ``RecordStore.ingest`` in batches
    of :data:`BATCH` (the API's write path, every index and the rollup; the signature is
    checked by the signer, not again here); the ids stored (hex)."""
    directory = DataDir(path)
    config, key = directory.load_config(), directory.load_key()
    limits = config.limits.limits()
    store = await Store.open(
        directory.database, synchronous="normal", stewards=steward_keys(config, key.public_key)
    )
    ids: list[str] = []
    try:
        for done, wires in enumerate(signed, 1):
            for start in range(0, len(wires), BATCH):
                batch = [_checked(w, network_id, limits) for w in wires[start : start + BATCH]]
                results = await store.records.ingest(batch, atomic=True)
                refused = [r for r in results if r.outcome is not Outcome.ACCEPTED]
                if refused:
                    raise RuntimeError(f"the store refused a record: {refused[0]}")
                ids.extend(record.id.hex() for record in batch)
            print(f"  stored {done} of {what}: {len(ids):,} records", end="\r", flush=True)
        print()
    finally:
        await store.close()
    return ids


def _checked(wire: Wire, network_id: str, limits: Limits) -> VerifiedRecord:
    record = SignedRecord(*wire)
    envelope = precheck_record(record, network_id=network_id, limits=limits)
    verified = finish_record(record, envelope)
    assert verified.id == record_id(record.envelope_bytes)
    return verified


def copy_node(node: SiteNode, target: Path) -> Path:
    """A copy of the built node to measure (publishing adds records to it)."""
    shutil.copytree(node.path, target)
    return target


def take_reports(path: Path) -> None:
    """Give the node a moderator key (once), so its report form is open, as a real
    chapter's is."""
    mark = path / "bench-moderator"
    if not mark.is_file():
        moderator = ModeratorKey.generate().public.text
        add = ["moderators", "add", moderator, "--label", "bench", "--data-dir", str(path)]
        checked(banscan(*add), "banscan moderators add")
        mark.write_text(moderator + "\n")
