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

import structlog

from protocol.records import VerifiedRecord
from protocol.trust import Member, Trust
from storage import pending, quarantine
from storage.classify import (
    IngestResult,
    Outcome,
    Plan,
    classify,
    decided_subjects,
    feed_of,
    quarantine_candidates,
)
from storage.database import Database
from storage.indexer import Indexer
from storage.indexwrite import fork_row, index_stored, max_seqs, retracted, slot_ids
from storage.members import load_members, rebuild_members, save_members, withdraw_revoked
from storage.stored import RecordReader

_log = structlog.get_logger("banscan.records")

# Run first in a write's transaction; raises to write nothing.
Check = Callable[[sqlite3.Connection], None]


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
        # Follows the log of deferred batches into the index (started by the Store).
        self.indexer = Indexer(db, clock, trust)
        # Set by the transaction under way on the writer's thread, read once it commits.
        self._logged: int | None = None
        self._flushed: int | None = None

    async def load_trust(self) -> None:
        """Rebuild the membership state from the stored membership records (the stewards
        may have changed since the last run), and apply it to the quarantine and to
        revoked keys' records."""
        staged: dict[bytes, Member] = {}

        def work(conn: sqlite3.Connection) -> None:
            self._logged = self._flushed = None
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

        def committed(_: None) -> None:
            self.trust.reset(staged.values())
            self._tell_indexer()

        await self._db.write(work, committed)

    async def ingest(
        self,
        records: Sequence[VerifiedRecord],
        *,
        atomic: bool = True,
        check: Check | None = None,
        defer: bool = False,
    ) -> list[IngestResult]:
        """Store a batch of verified records in one transaction; a result per record.

        With ``atomic``, a batch holding a rejected record is rolled back whole,
        and every other record's result says it was not stored. ``check`` runs
        first in the transaction, and raises to write nothing (a writer's token
        revoked meanwhile).

        With ``defer``, the batch is decided exactly as inline, but its records are
        only appended to the log (:mod:`storage.pending`) with the feed heads, fork
        evidence and the quarantine; the indexer indexes them later. A batch holding a
        steward's decision or a retraction is stored inline all the same (rare; the
        trust rule's effects on stored and quarantined records stay as they are, and
        a retracted body is erased when the retraction is acknowledged). Without
        ``defer``, everything the log holds is indexed first, in the same
        transaction, so records are always indexed in the order they arrived.
        """
        staged: dict[bytes, Member] = {}

        def work(conn: sqlite3.Connection) -> list[IngestResult]:
            self._logged = self._flushed = None
            if check is not None:
                check(conn)
            self._follow_other_writers(conn)
            logged = self._log(conn, records, staged) if defer else None
            results = logged if logged is not None else self._ingest(conn, records, staged)
            if atomic and any(r.outcome is Outcome.REJECTED for r in results):
                raise _Rollback(results)
            self._bound_quarantine(conn)
            return results

        def committed(_: list[IngestResult]) -> None:
            # Committed: only then may the in-memory state see the new decisions.
            self.trust.commit(staged)
            self._tell_indexer()

        try:
            return await self._db.write(work, committed)
        except _Rollback as rollback:
            return [
                r if r.outcome is Outcome.REJECTED else IngestResult(r.id, Outcome.REJECTED)
                for r in rollback.results
            ]

    def _log(
        self,
        conn: sqlite3.Connection,
        records: Sequence[VerifiedRecord],
        staged: dict[bytes, Member],
    ) -> list[IngestResult] | None:
        """Stage 1 of a deferred batch: decided as :meth:`_ingest` decides, its slots
        appended to the log; None when the batch holds a steward's decision or a
        retraction."""
        trust = self.trust
        # A retraction erases its target's body at once, never "once indexed", and a body
        # whose retraction is held already is never stored, not even in the log.
        if (
            decided_subjects(records, trust.stewards)
            or any(r.envelope.kind == "retraction" for r in records)
            or retracted(conn, [r.id for r in records])
        ):
            return None
        heads = max_seqs(conn, {feed_of(r) for r in records})
        plan = classify(
            records,
            heads=heads,
            slots=slot_ids(conn, records, heads, logged=True),
            held=quarantine.held_ids(conn, quarantine_candidates(records, heads, trust, staged)),
            trust=trust,
            staged=staged,
        )
        if plan.decided:
            return None
        now = self._clock()
        if plan.stored:
            self._logged = pending.log_stored(conn, plan.stored, now)
        self._settle(conn, plan, now)
        return plan.results(records)

    def _flush(self, conn: sqlite3.Connection) -> None:
        """Index everything the log holds, in this transaction (the inline path's first step)."""
        if pending.flush(conn, self.trust.stewards, self._clock()):
            self._flushed = pending.last_lsn(conn)

    def _tell_indexer(self) -> None:
        """After a commit: what it logged, or indexed inline, moves the indexer's figures."""
        if self._flushed is not None:
            self.indexer.indexed_through(self._flushed)
        if self._logged is not None:
            self.indexer.logged_through(self._logged)
        self._logged = self._flushed = None

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
            self._logged = self._flushed = None
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

        def committed(_: list[VerifiedRecord]) -> None:
            self.trust.commit(staged)
            self._tell_indexer()

        return await self._db.write(work, committed)

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
        self._flush(conn)
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
        heads = max_seqs(conn, {feed_of(r) for r in records})
        candidates = quarantine_candidates(records, heads, trust, staged, own=own)
        plan = classify(
            records,
            heads=heads,
            slots=slot_ids(conn, records, heads),
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
        """Write ``plan`` inline: new slots indexed (:func:`storage.indexwrite.index_stored`),
        then what acknowledging writes on either path (:meth:`_settle`)."""
        index_stored(conn, plan.stored, now, self.trust.stewards)
        self._settle(conn, plan, now)

    def _settle(self, conn: sqlite3.Connection, plan: Plan, now: int) -> None:
        """What acknowledging a batch writes besides its slots: feed heads, fork evidence,
        the quarantine."""
        if plan.stored:
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
                [fork_row(record, first, now) for record, first in plan.forks],
            )
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


class _Rollback(Exception):
    def __init__(self, results: list[IngestResult]) -> None:
        super().__init__("batch rolled back")
        self.results = results
