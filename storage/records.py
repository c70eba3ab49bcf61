"""Writing records: a batch in one transaction, as :mod:`storage.classify` decides.

Ingest takes a batch of already verified records. It reads what the decision
needs (the feeds' heads, the ids already holding the batch's slots, which
records wait in the quarantine), lets :func:`storage.classify.classify`
decide each record's fate, and applies that plan: accepted records and
tombstones take their slots, fork evidence is kept, records of undecided
origins go to the quarantine (``storage.quarantine``).

When a steward's membership record changes a key's state, that key's
quarantined records are released and judged again in the same transaction,
and a revocation withdraws the key's records created since it was
compromised. The trust rule is :mod:`protocol.trust`'s; the in-memory trust
state sees new decisions only once the transaction has committed.

A batch is atomic when asked: one rejected record rolls back the whole batch;
quarantined records are not rejections. Reads are :class:`storage.stored.RecordReader`'s.
"""

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from protocol.records import VerifiedRecord
from protocol.trust import Member, Trust
from storage import mapareas, mapgrid, quarantine
from storage.classify import (
    Feed,
    IngestResult,
    Outcome,
    Plan,
    Slot,
    classify,
    decided_subjects,
    feed_of,
    quarantine_candidates,
)
from storage.columns import QUERY_COLUMNS, query_columns, summary_text
from storage.database import Database
from storage.members import load_members, rebuild_members, save_members, withdraw_revoked
from storage.rollupadd import add_batch as add_to_rollup
from storage.sql import expand_in, statement
from storage.stored import RecordReader
from storage.versions import apply_versions, withdraw

_log = structlog.get_logger("banscan.records")

# Column names come from a constant; every value is a bound parameter.
_COLUMNS = (
    "rid",
    "id",
    "origin",
    "audience",
    "seq",
    "created_ms",
    "kind",
    "envelope",
    "signature",
    "received_ms",
    *QUERY_COLUMNS,
)
# Run first in a write's transaction; raises to write nothing.
Check = Callable[[sqlite3.Connection], None]
_INSERT_RECORD = statement(
    "INSERT INTO records ({columns}) VALUES {marks}",
    columns=", ".join(_COLUMNS),
    marks=expand_in(_COLUMNS)[0],
)


class RecordStore(RecordReader):
    """Reads and writes records. All writes are batched into single transactions.

    Each write is one call of :meth:`storage.database.Database.write`: reading
    the feeds' heads, classifying, inserting, the rollup, versions and the
    quarantine all run as one function on the writer connection's thread, so
    a write waits for the event loop once, not once per statement. The
    in-memory trust state is read there too; it changes only by replacing its
    members wholesale (:class:`protocol.trust.Trust`), so readers on the event
    loop never see it half changed."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], int],
        trust: Trust,
        quarantine_max_bytes: int = quarantine.DEFAULT_MAX_BYTES,
    ) -> None:
        super().__init__(db)
        self._clock = clock
        self.trust = trust
        self._quarantine_max_bytes = quarantine_max_bytes
        self._data_version: int | None = None

    async def load_trust(self) -> None:
        """Rebuild the membership state from the stored membership records (the stewards
        may have changed since the last run), and apply it to the quarantine and to
        revoked keys' records."""
        staged: dict[bytes, Member] = {}

        def work(conn: sqlite3.Connection) -> None:
            self._follow_other_writers(conn)
            before = {m.subject: m for m in load_members(conn)}
            members = rebuild_members(conn, self.trust.stewards)
            self.trust.reset(())
            staged.update((m.subject, m) for m in members)
            now = self._clock()
            for member in members:
                if member.action == "revoke" and before.get(member.subject) != member:
                    withdraw_revoked(conn, member, now)
            held = quarantine.held_origins(conn)
            self._release(conn, held & (set(staged) | self.trust.stewards), staged)

        await self._db.write(work, lambda _: self.trust.reset(staged.values()))

    async def ingest(
        self,
        records: Sequence[VerifiedRecord],
        *,
        atomic: bool = True,
        check: Check | None = None,
    ) -> list[IngestResult]:
        """Store a batch of verified records in one transaction; a result per record.

        With ``atomic``, a batch holding a rejected record is rolled back whole,
        and every other record's result says it was not stored. ``check`` runs
        first in the transaction, and raises to write nothing (a writer's token
        revoked meanwhile).
        """
        staged: dict[bytes, Member] = {}

        def work(conn: sqlite3.Connection) -> list[IngestResult]:
            if check is not None:
                check(conn)
            self._follow_other_writers(conn)
            results = self._ingest(conn, records, staged)
            if atomic and any(r.outcome is Outcome.REJECTED for r in results):
                raise _Rollback(results)
            self._bound_quarantine(conn)
            return results

        try:
            # Committed: only then may the in-memory state see the new decisions.
            return await self._db.write(work, lambda _: self.trust.commit(staged))
        except _Rollback as rollback:
            return [
                r if r.outcome is Outcome.REJECTED else IngestResult(r.id, Outcome.REJECTED)
                for r in rollback.results
            ]

    async def append(
        self,
        origin: bytes,
        audience: str,
        build: Callable[[int], VerifiedRecord],
        *,
        check: Check | None = None,
    ) -> VerifiedRecord:
        """Add this node's own next record to a feed; ``build`` signs it for the given seq
        on the writer's thread, inside the storing transaction, after ``check`` (as in
        :meth:`ingest`). Stored whatever this node's standing: a chapter publishes before
        it is admitted."""
        return (await self.append_many(origin, audience, [build], check=check))[0]

    async def append_many(
        self,
        origin: bytes,
        audience: str,
        builds: Sequence[Callable[[int], VerifiedRecord]],
        *,
        check: Check | None = None,
    ) -> list[VerifiedRecord]:
        """:meth:`append` for several records, at consecutive seqs in one transaction: a
        bulk import (``banscan import-osm``) commits once per batch, not once per record."""
        staged: dict[bytes, Member] = {}

        def work(conn: sqlite3.Connection) -> list[VerifiedRecord]:
            if check is not None:
                check(conn)
            self._follow_other_writers(conn)
            row = conn.execute(
                "SELECT max_seq FROM feeds WHERE origin = ? AND audience = ?", (origin, audience)
            ).fetchone()
            first = (row[0] if row else 0) + 1
            records = [build(first + n) for n, build in enumerate(builds)]
            for result in self._ingest(conn, records, staged, own=True):
                if result.outcome is not Outcome.ACCEPTED:
                    raise RuntimeError(f"own record not accepted: {result}")
            self._bound_quarantine(conn)
            return records

        return await self._db.write(work, lambda _: self.trust.commit(staged))

    async def refresh_trust(self) -> None:
        """Take membership decisions another process (``banscan members``) committed."""
        await self._db.write(self._follow_other_writers)

    def _follow_other_writers(self, conn: sqlite3.Connection) -> None:
        # data_version changes when another connection commits: then the members table
        # may hold decisions (made and applied by that process) this Trust has not seen.
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        if version != self._data_version:
            if self._data_version is not None:
                self.trust.reset(load_members(conn))
            self._data_version = version

    async def quarantine_totals(self) -> tuple[int, int]:
        """(records, bytes) waiting in the quarantine."""
        return await quarantine.quarantine_totals(self._db.reader)

    def _ingest(
        self,
        conn: sqlite3.Connection,
        records: Sequence[VerifiedRecord],
        staged: dict[bytes, Member],
        *,
        own: bool = False,
    ) -> list[IngestResult]:
        """Apply ``records`` in one transaction; steward decisions go into ``staged``."""
        now = self._clock()
        trust = self.trust
        asked = len(records)
        # A steward's decision in this batch may admit a key whose earlier records wait
        # in the quarantine: take them out now and judge them with the batch, in feed
        # order, or the batch's later records of that key would leave a seq gap.
        subjects = decided_subjects(records, trust.stewards)
        if subjects:
            ids = {record.id for record in records}
            waiting = quarantine.release(conn, subjects)
            if waiting:
                _log.info("released quarantined records", released=len(waiting))
            records = [*records, *(r for r in waiting if r.id not in ids)]
        heads = _max_seqs(conn, {feed_of(r) for r in records})
        candidates = quarantine_candidates(records, heads, trust, staged, own=own)
        plan = classify(
            records,
            heads=heads,
            slots=_slot_ids(conn, records, heads),
            held=quarantine.held_ids(conn, candidates),
            trust=trust,
            staged=staged,
            own=own,
        )
        staged.update((decision.subject, decision) for decision in plan.decided)
        self._apply(conn, plan, now)
        if plan.decided:
            self._decide(conn, plan.decided, staged, now)
        # Results for the records asked about; released ones went where they belong.
        return plan.results(records)[:asked]

    def _apply(self, conn: sqlite3.Connection, plan: Plan, now: int) -> None:
        """Write ``plan``: new slots with their bodies and summaries, feed heads, fork
        evidence, the rollup and versions, tombstones withdrawn, the quarantine."""
        first_rid = int(conn.execute("SELECT COALESCE(MAX(rid), 0) FROM records").fetchone()[0]) + 1
        new_rows, bodies, summaries, tombstones = [], [], [], []
        for rid, slot in enumerate(plan.stored, start=first_rid):
            record = slot.record
            new_rows.append(_record_row(rid, record, now, tombstone=slot.withdrawn_by is not None))
            if slot.withdrawn_by is not None:
                tombstones.append((slot.withdrawn_by, rid))
                continue
            if record.body is not None:
                bodies.append((rid, record.body))
            if (text := summary_text(record.content)) is not None:
                summaries.append((rid, text))
        if new_rows:
            conn.executemany(_INSERT_RECORD, new_rows)
            conn.executemany("INSERT INTO bodies (rid, body) VALUES (?, ?)", bodies)
            conn.executemany("INSERT INTO summaries (rowid, summary) VALUES (?, ?)", summaries)
            conn.executemany(
                "INSERT INTO feeds (origin, audience, max_seq) VALUES (?, ?, ?) "
                "ON CONFLICT (origin, audience) DO UPDATE SET max_seq = excluded.max_seq",
                # A feed whose records were all quarantined has no row: max_seq is >= 1.
                [(origin, audience, seq) for (origin, audience), seq in plan.heads.items()],
            )
        if plan.forks:
            conn.executemany(
                "INSERT OR IGNORE INTO forks (id, origin, audience, seq, envelope, signature,"
                " first_id, detected_ms) VALUES (?,?,?,?,?,?,?,?)",
                [_fork_row(record, first, now) for record, first in plan.forks],
            )
        if new_rows:
            last_rid = first_rid + len(new_rows) - 1
            add_to_rollup(conn, new_rows, _COLUMNS)
            mapgrid.add_batch(conn, first_rid, last_rid)
            mapareas.add_batch(conn, first_rid, last_rid)
            apply_versions(conn, first_rid, last_rid, self.trust.stewards, now)
        withdraw(conn, tombstones, now)
        if plan.held:
            quarantine.hold(conn, plan.held, now)

    def _decide(
        self,
        conn: sqlite3.Connection,
        decided: Sequence[Member],
        staged: dict[bytes, Member],
        now: int,
    ) -> None:
        """Store new steward decisions and apply them to stored and quarantined records."""
        latest = {m.subject: staged[m.subject] for m in decided}
        save_members(conn, latest.values())
        for member in latest.values():
            if member.action == "revoke":
                withdraw_revoked(conn, member, now)
        self._release(conn, set(latest), staged)

    def _release(
        self, conn: sqlite3.Connection, origins: set[bytes], staged: dict[bytes, Member]
    ) -> None:
        """Judge again the quarantined records of ``origins``; those refused now are dropped."""
        released = quarantine.release(conn, origins)
        if not released:
            return
        results = self._ingest(conn, released, staged)
        counts = {o.value: sum(1 for r in results if r.outcome is o) for o in Outcome}
        _log.info("released quarantined records", **{k: n for k, n in counts.items() if n})

    def _bound_quarantine(self, conn: sqlite3.Connection) -> None:
        quarantine.enforce_bound(conn, self._quarantine_max_bytes)


def _record_row(
    rid: int, record: VerifiedRecord, now: int, *, tombstone: bool = False
) -> tuple[Any, ...]:
    """The ``records`` row of ``record``; a tombstone's query columns stay empty."""
    env = record.envelope
    return (
        rid,
        record.id,
        env.origin,
        env.audience,
        env.seq,
        env.created_ms,
        env.kind,
        record.envelope_bytes,
        record.signature,
        now,
        *query_columns(None if tombstone else record.content),
    )


class _Rollback(Exception):
    def __init__(self, results: list[IngestResult]) -> None:
        super().__init__("batch rolled back")
        self.results = results


def _max_seqs(
    conn: sqlite3.Connection, feeds: set[tuple[bytes, str]]
) -> dict[tuple[bytes, str], int]:
    """The stored max_seq of each feed in ``feeds`` that exists, in one query per 500 origins."""
    origins = sorted({origin for origin, _ in feeds})
    held: dict[tuple[bytes, str], int] = {}
    for start in range(0, len(origins), 500):
        part = origins[start : start + 500]
        marks, params = expand_in(part)
        sql = statement(
            "SELECT origin, audience, max_seq FROM feeds WHERE origin IN {marks}", marks=marks
        )
        rows = conn.execute(sql, params).fetchall()
        held.update(((origin, audience), int(seq)) for origin, audience, seq in rows)
    return held


def _slot_ids(
    conn: sqlite3.Connection, records: Sequence[VerifiedRecord], heads: dict[Feed, int]
) -> dict[Slot, bytes]:
    """The ids stored at the slots of ``records`` at or below their feed's head."""
    wanted = sorted(
        {
            (r.envelope.origin, r.envelope.audience, r.envelope.seq)
            for r in records
            if r.envelope.seq <= heads.get(feed_of(r), 0)
        }
    )
    found: dict[Slot, bytes] = {}
    for slot in wanted:
        row = conn.execute(
            "SELECT id FROM records WHERE origin = ? AND audience = ? AND seq = ?", slot
        ).fetchone()
        if row is not None:
            found[slot] = bytes(row[0])
    return found


def _fork_row(record: VerifiedRecord, first_id: bytes, now: int) -> tuple[Any, ...]:
    env = record.envelope
    return (
        record.id,
        env.origin,
        env.audience,
        env.seq,
        record.envelope_bytes,
        record.signature,
        first_id,
        now,
    )
