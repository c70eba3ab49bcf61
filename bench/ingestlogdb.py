"""The database side of ``bench/ingestlog.py``: the base database, built once and cached,
and the two stages of a two-stage ingest, written with the node's own storage functions.

**Stage 1** (what a batch would need before it is acknowledged) stores the batch in a
``log`` table: one row per record taking its feed's next slot, with only what
acknowledging and serving sync need (the envelope, signature and body, the id, the
slot), plus the feed heads, fork evidence and the quarantine, decided by the node's
own :func:`storage.classify.classify` with the slots read from the log instead of
``records``. **Stage 2** (the indexer) reads the log after its position in larger
batches, rebuilds each :class:`~protocol.records.VerifiedRecord` (the envelope decoded
and the body validated again: the log keeps bytes, not the decoded content) and hands
them to :meth:`storage.records.RecordStore._apply`, today's write of the ``records``
row, bodies, full-text summaries, rollups, map grid and versions, then moves its
position in the same transaction, so a read of the index is exact "as of" that position.

Neither the ``log`` table nor the position is part of the node's schema: the
benchmark creates them on its copy of the database (nothing in ``storage/`` changes).
Signatures are not checked here (the records are the benchmark's own, signed by
:class:`bench.ingestdata.Generator`): this measures storage only.
"""

import os
import shutil
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import msgpack

from bench.ingestdata import NETWORK, ORIGINS, Generator, origin_label
from protocol.envelope import decode_envelope
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, VerifiedRecord, finish_record, precheck_record
from protocol.trust import Member, Trust
from storage import quarantine
from storage.classify import (
    IngestResult,
    Plan,
    Slot,
    Stored,
    classify,
    feed_of,
    quarantine_candidates,
)
from storage.database import Database
from storage.indexwrite import fork_row, max_seqs
from storage.migrations import MIGRATIONS
from storage.records import RecordStore
from tests.factories import seeded_key

BATCH = 500
# One chunk of the base is signed, verified and stored at a time (bounded memory).
FILL_CHUNK = 20_000

LOG_SCHEMA = """
CREATE TABLE log (
    lsn INTEGER PRIMARY KEY,      -- the log position: the indexer's cursor, the sync order
    id BLOB NOT NULL,
    origin BLOB NOT NULL,
    audience TEXT NOT NULL,
    seq INTEGER NOT NULL,
    envelope BLOB NOT NULL,
    signature BLOB NOT NULL,
    body BLOB,                    -- NULL for a tombstone
    withdrawn_by BLOB,            -- the membership record that refused a tombstone
    received_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX log_slot ON log (origin, audience, seq);
CREATE UNIQUE INDEX log_id ON log (id);
CREATE TABLE log_position (one INTEGER PRIMARY KEY CHECK (one = 1), lsn INTEGER NOT NULL);
"""
_FILL_LOG = """
INSERT INTO log (lsn, id, origin, audience, seq, envelope, signature, body, withdrawn_by,
                 received_ms)
SELECT r.rid, r.id, r.origin, r.audience, r.seq, r.envelope, r.signature, b.body, NULL,
       r.received_ms
FROM records AS r LEFT JOIN bodies AS b ON b.rid = r.rid ORDER BY r.rid
"""
_INSERT_LOG = (
    "INSERT INTO log (lsn, id, origin, audience, seq, envelope, signature, body, withdrawn_by,"
    " received_ms) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
_FEEDS = (
    "INSERT INTO feeds (origin, audience, max_seq) VALUES (?, ?, ?) "
    "ON CONFLICT (origin, audience) DO UPDATE SET max_seq = excluded.max_seq"
)
_FORKS = (
    "INSERT OR IGNORE INTO forks (id, origin, audience, seq, envelope, signature,"
    " first_id, detected_ms) VALUES (?,?,?,?,?,?,?,?)"
)


def clock() -> int:
    return time.time_ns() // 1_000_000


def bench_trust() -> Trust:
    """The 50 bench origins admitted as chapters, so their records are accepted (not
    quarantined), as on a node whose stewards admitted them."""
    members = [
        Member(
            subject=seeded_key(origin_label(o)).public_key,
            action="admit",
            role="chapter",
            name=f"origin {o}",
            city=None,
            country=None,
            compromised_since_ms=None,
            decided_ms=0,
            record_id=bytes(32),
        )
        for o in range(ORIGINS)
    ]
    return Trust(frozenset(), members)


def verified(records: Sequence[SignedRecord]) -> list[VerifiedRecord]:
    """What the node's verifier hands the store, without the signature check."""
    out = []
    for record in records:
        envelope = precheck_record(record, network_id=NETWORK, limits=DEFAULT_LIMITS)
        out.append(finish_record(record, envelope))
    return out


def cache_dir(root: Path, stored: int, records: int, seed: int) -> Path:
    """Where the base of these parameters is kept; the schema's migrations are in the key,
    so a new migration builds a new base."""
    return root / f"banscan-ingestlog-s{stored}-r{records}-seed{seed}-m{len(MIGRATIONS)}"


async def build_base(where: Path, stored: int, records: int, seed: int) -> float:
    """Build ``where/base.sqlite`` (``stored`` records through ``RecordStore.ingest`` and
    the same records in the log) and ``where/window.msgpack`` (the next ``records``);
    the seconds it took. Nothing to do when they exist."""
    if (where / "window.msgpack").exists():
        return 0.0
    started = time.perf_counter()
    building = _fresh(where / "building.sqlite")
    db = await Database.open(building)
    store = RecordStore(db, clock, bench_trust())
    with Generator(seed) as generator:
        while generator.position < stored:
            chunk = generator.take(min(FILL_CHUNK, stored - generator.position)).records
            await ingest(store, verified(chunk))
        window = generator.take(records).records

    def fill_log(conn: sqlite3.Connection) -> None:
        for sql in LOG_SCHEMA.split(";"):
            if sql.strip():
                conn.execute(sql)
        conn.execute(_FILL_LOG)
        conn.execute("INSERT INTO log_position VALUES (1, COALESCE((SELECT MAX(lsn) FROM log), 0))")

    await db.write(fill_log)
    await db.checkpoint()
    await db.close()
    _keep(where, building, window)
    return time.perf_counter() - started


def _fresh(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def _keep(where: Path, building: Path, window: Sequence[SignedRecord]) -> None:
    """The finished base and window, under their final names (the window last: it marks
    the base complete)."""
    building.rename(where / "base.sqlite")
    wire = [[r.envelope_bytes, r.signature, r.body] for r in window]
    (where / "window.msgpack").write_bytes(msgpack.packb(wire, use_bin_type=True))


def load_window(where: Path) -> list[SignedRecord]:
    wire = msgpack.unpackb((where / "window.msgpack").read_bytes(), raw=False)
    return [SignedRecord(envelope, signature, body) for envelope, signature, body in wire]


def copy_database(source: Path, target: Path) -> Path:
    """A copy of a closed, checkpointed database (its WAL empty or gone), on the disk
    before it is measured (its writes are not the measured run's)."""
    shutil.copyfile(source, _fresh(target))
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return target


async def ingest(store: RecordStore, records: Sequence[VerifiedRecord]) -> int:
    """Today's path: ``RecordStore.ingest`` in batches of :data:`BATCH`; records accepted."""
    accepted = 0
    for start in range(0, len(records), BATCH):
        results = await store.ingest(records[start : start + BATCH])
        accepted += sum(r.outcome.value == "accepted" for r in results)
    return accepted


# --- stage 1: the acknowledged path ------------------------------------------------------


def log_batch(
    conn: sqlite3.Connection, records: Sequence[VerifiedRecord], trust: Trust
) -> list[IngestResult]:
    """One batch into the log, decided as today (:func:`classify`): duplicates (same id
    at a slot, in the batch or in the quarantine), forks (another id at a slot: kept as
    evidence), seq gaps (rejected), the trust rule (quarantine, tombstones)."""
    now = clock()
    heads = max_seqs(conn, {feed_of(r) for r in records})
    candidates = quarantine_candidates(records, heads, trust, {})
    plan = classify(
        records,
        heads=heads,
        slots=_log_slots(conn, records, heads),
        held=quarantine.held_ids(conn, candidates),
        trust=trust,
        staged={},
    )
    first = int(conn.execute("SELECT COALESCE(MAX(lsn), 0) FROM log").fetchone()[0]) + 1
    rows = [_log_row(lsn, slot, now) for lsn, slot in enumerate(plan.stored, start=first)]
    conn.executemany(_INSERT_LOG, rows)
    conn.executemany(_FEEDS, [(o, a, seq) for (o, a), seq in plan.heads.items()])
    if plan.forks:
        conn.executemany(_FORKS, [fork_row(r, first_id, now) for r, first_id in plan.forks])
    if plan.held:
        quarantine.hold(conn, plan.held, now)
    quarantine.enforce_bound(conn, quarantine.DEFAULT_MAX_BYTES)  # as RecordStore.ingest
    return plan.results(records)


def _log_slots(
    conn: sqlite3.Connection, records: Sequence[VerifiedRecord], heads: dict[tuple[bytes, str], int]
) -> dict[Slot, bytes]:
    """The ids the log holds at the slots of ``records`` at or below their feed's head."""
    found: dict[Slot, bytes] = {}
    for r in records:
        env = r.envelope
        if env.seq <= heads.get(feed_of(r), 0):
            slot = (env.origin, env.audience, env.seq)
            row = conn.execute(
                "SELECT id FROM log WHERE origin = ? AND audience = ? AND seq = ?", slot
            ).fetchone()
            if row is not None:
                found[slot] = bytes(row[0])
    return found


def _log_row(lsn: int, slot: Stored, now: int) -> tuple[object, ...]:
    r, env = slot.record, slot.record.envelope
    body = None if slot.withdrawn_by is not None else r.body
    return (lsn, r.id, env.origin, env.audience, env.seq, r.envelope_bytes, r.signature, body,
            slot.withdrawn_by, now)  # fmt: skip


# --- stage 2: the indexer ----------------------------------------------------------------


class Indexer:
    """Follows the log into today's ``records`` path, ``size`` log rows per transaction.
    ``decode_seconds`` is the writer thread's CPU rebuilding records from the log."""

    def __init__(self, store: RecordStore, size: int) -> None:
        self.store = store
        self.size = size
        self.decode_seconds = 0.0

    def step(self, conn: sqlite3.Connection) -> int:
        """Index the next ``size`` log rows; how many there were."""
        position = int(conn.execute("SELECT lsn FROM log_position").fetchone()[0])
        rows = conn.execute(
            "SELECT lsn, envelope, signature, body, withdrawn_by FROM log WHERE lsn > ?"
            " ORDER BY lsn LIMIT ?",
            (position, self.size),
        ).fetchall()
        if not rows:
            return 0
        started = time.thread_time()
        stored = [
            Stored(finish_record(SignedRecord(e, s, b), decode_envelope(e)), w)
            for _, e, s, b, w in rows
        ]
        self.decode_seconds += time.thread_time() - started
        # Feed heads were moved by stage 1: the plan holds the slots only.
        self.store._apply(conn, Plan(stored=stored), self.store._clock())
        conn.execute("UPDATE log_position SET lsn = ?", (rows[-1][0],))
        return len(rows)

    async def catch_up(self, db: Database) -> int:
        done = 0
        while moved := await db.write(self.step):
            done += moved
        return done
