"""Records, bodies, feeds and fork evidence.

Ingest takes a batch of already verified records and stores it in one
transaction. Each feed ``(origin, audience)`` holds a contiguous run of seqs
from 1, so for every record exactly one of these holds:

- its seq is the feed's next one: it is **accepted**;
- the slot is taken by the same envelope: a **duplicate**, a no-op;
- the slot is taken by another envelope: a **fork**; both are kept as
  evidence, the first goes on being served, and the origin is flagged;
- its seq is beyond the next one: **rejected** as a seq gap.

Before a record takes a new slot, the trust rule (``protocol.trust``) judges
its origin: a record of a key no steward has decided on is **quarantined**
(``storage.quarantine``); one that a suspension or revocation covers is
**rejected**. Stewards' records are applied first, so a batch that admits a
key and carries its records stores them. When a steward's membership record
changes a key's state, that key's quarantined records are released and judged
again in the same transaction, and a revocation withdraws the key's records
created since it was compromised. The node's own records skip the rule: a new
chapter publishes before it is admitted.

A batch is atomic when asked: one rejected record rolls back the whole batch;
quarantined records are not rejections.
"""

import enum
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite
import structlog

from protocol.envelope import Envelope, decode_envelope
from protocol.errors import ProtocolError, SeqGapError
from protocol.records import SignedRecord, VerifiedRecord
from protocol.trust import Member, Standing, Trust, decision_of
from storage import quarantine
from storage.columns import QUERY_COLUMNS, query_columns, summary_text
from storage.database import Database
from storage.members import load_members, rebuild_members, save_members, withdraw_revoked
from storage.rollup import add_batch as add_to_rollup
from storage.versions import apply_versions, withdraw


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    FORK = "fork"
    QUARANTINED = "quarantined"
    REJECTED = "rejected"


_log = structlog.get_logger("banscan.records")

BATCH_REJECTED = "batch-rejected"
FORK_DETAIL = (
    "this feed slot is already held by another envelope; both are kept as evidence "
    "and the origin is flagged"
)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What became of one record. A rejected record with no error was sound, but its
    batch was rolled back because of another record."""

    id: bytes
    outcome: Outcome
    error: ProtocolError | None = None

    @property
    def code(self) -> str | None:
        if self.error is not None:
            return self.error.code
        return {Outcome.REJECTED: BATCH_REJECTED, Outcome.FORK: "fork"}.get(self.outcome)

    @property
    def detail(self) -> str | None:
        if self.error is not None:
            return self.error.detail
        if self.outcome is Outcome.REJECTED:
            return "not stored: another record in the batch was rejected"
        return FORK_DETAIL if self.outcome is Outcome.FORK else None


@dataclass(frozen=True, slots=True)
class StoredRecord:
    rid: int
    envelope: Envelope
    envelope_bytes: bytes
    signature: bytes
    body: bytes | None
    erased: bool

    @property
    def id(self) -> bytes:
        return SignedRecord(self.envelope_bytes, self.signature, self.body).id

    def signed(self) -> SignedRecord:
        return SignedRecord(self.envelope_bytes, self.signature, self.body)


@dataclass(frozen=True, slots=True)
class RecordFilter:
    kinds: Sequence[str] = ()
    origin: bytes | None = None
    audiences: Sequence[str] = ()
    since_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Fork:
    origin: bytes
    audience: str
    seq: int
    first_id: bytes
    second_id: bytes
    detected_ms: int


# Column names come from a constant; every value is a bound parameter.
_COLUMNS = ", ".join(
    (
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
)
_INSERT_RECORD = (
    f"INSERT INTO records ({_COLUMNS}) VALUES ({', '.join('?' * (10 + len(QUERY_COLUMNS)))})"  # noqa: S608
)
_SELECT_RECORDS = (
    "SELECT r.rid, r.envelope, r.signature, b.body, r.erased_ms "
    "FROM records r LEFT JOIN bodies b ON b.rid = r.rid"
)


class RecordStore:
    """Reads and writes records. All writes are batched into single transactions."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], int],
        trust: Trust,
        quarantine_max_bytes: int = quarantine.DEFAULT_MAX_BYTES,
    ) -> None:
        self._db = db
        self._clock = clock
        self.trust = trust
        self._quarantine_max_bytes = quarantine_max_bytes
        self._data_version: int | None = None

    async def load_trust(self) -> None:
        """Rebuild the membership state from the stored membership records (the stewards
        may have changed since the last run), and apply it to the quarantine and to
        revoked keys' records."""
        staged: dict[bytes, Member] = {}
        async with self._db.transaction() as conn:
            await self._follow_other_writers(conn)
            before = {m.subject: m for m in await load_members(conn)}
            members = await rebuild_members(conn, self.trust.stewards)
            self.trust.reset(())
            staged.update((m.subject, m) for m in members)
            now = self._clock()
            for member in members:
                if member.action == "revoke" and before.get(member.subject) != member:
                    await withdraw_revoked(conn, member, now)
            held = await quarantine.held_origins(conn)
            await self._release(conn, held & (set(staged) | self.trust.stewards), staged)
        self.trust.reset(staged.values())

    async def ingest(
        self, records: Sequence[VerifiedRecord], *, atomic: bool = True
    ) -> list[IngestResult]:
        """Store a batch of verified records in one transaction; a result per record.

        With ``atomic``, a batch holding a rejected record is rolled back whole,
        and every other record's result says it was not stored.
        """
        staged: dict[bytes, Member] = {}
        try:
            async with self._db.transaction() as conn:
                await self._follow_other_writers(conn)
                results = await self._ingest(conn, records, staged)
                if atomic and any(r.outcome is Outcome.REJECTED for r in results):
                    raise _Rollback(results)
                await self._bound_quarantine(conn)
        except _Rollback as rollback:
            return [
                r if r.outcome is Outcome.REJECTED else IngestResult(r.id, Outcome.REJECTED)
                for r in rollback.results
            ]
        # Committed: only now may the in-memory state see the new decisions.
        self.trust.commit(staged)
        return results

    async def append(
        self, origin: bytes, audience: str, build: Callable[[int], VerifiedRecord]
    ) -> VerifiedRecord:
        """Add this node's own next record to a feed; ``build`` signs it for the given seq.

        Stored whatever this node's standing: a chapter publishes before it is admitted."""
        staged: dict[bytes, Member] = {}
        async with self._db.transaction() as conn:
            await self._follow_other_writers(conn)
            async with conn.execute(
                "SELECT max_seq FROM feeds WHERE origin = ? AND audience = ?", (origin, audience)
            ) as cursor:
                row = await cursor.fetchone()
            record = build((row[0] if row else 0) + 1)
            results = await self._ingest(conn, [record], staged, own=True)
            if results[0].outcome is not Outcome.ACCEPTED:
                raise RuntimeError(f"own record not accepted: {results[0]}")
            await self._bound_quarantine(conn)
        self.trust.commit(staged)
        return record

    async def refresh_trust(self) -> None:
        """Take membership decisions another process (``banscan members``) committed."""
        async with self._db.transaction() as conn:
            await self._follow_other_writers(conn)

    async def _follow_other_writers(self, conn: aiosqlite.Connection) -> None:
        # data_version changes when another connection commits: then the members table
        # may hold decisions (made and applied by that process) this Trust has not seen.
        rows = await conn.execute_fetchall("PRAGMA data_version")
        version = int(next(iter(rows))[0])
        if version != self._data_version:
            if self._data_version is not None:
                self.trust.reset(await load_members(conn))
            self._data_version = version

    async def quarantine_totals(self) -> tuple[int, int]:
        """(records, bytes) waiting in the quarantine."""
        return await quarantine.quarantine_totals(self._db.reader)

    async def get(self, record_id: bytes) -> StoredRecord | None:
        rows = await self._select("WHERE r.id = ?", (record_id,))
        return rows[0] if rows else None

    async def page(
        self, where: RecordFilter, *, after_rid: int = 0, limit: int = 100
    ) -> list[StoredRecord]:
        clauses: list[str] = ["r.rid > ?"]
        params: list[Any] = [after_rid]
        if where.kinds:
            clauses.append(f"r.kind IN ({','.join('?' * len(where.kinds))})")
            params.extend(where.kinds)
        if where.audiences:
            clauses.append(f"r.audience IN ({','.join('?' * len(where.audiences))})")
            params.extend(where.audiences)
        if where.origin is not None:
            clauses.append("r.origin = ?")
            params.append(where.origin)
        if where.since_ms is not None:
            clauses.append("r.created_ms >= ?")
            params.append(where.since_ms)
        return await self._select(
            f"WHERE {' AND '.join(clauses)} ORDER BY r.rid LIMIT ?", (*params, limit)
        )

    async def iterate(self, where: RecordFilter, *, page: int = 500) -> AsyncIterator[StoredRecord]:
        """Every matching record in arrival order, a page at a time (constant memory)."""
        after = 0
        while True:
            rows = await self.page(where, after_rid=after, limit=page)
            for row in rows:
                yield row
            if len(rows) < page:
                return
            after = rows[-1].rid

    async def counts(self) -> list[tuple[str, str, int]]:
        """(kind, audience, count) for every kind and audience held."""
        async with self._db.reader.execute(
            "SELECT kind, audience, COUNT(*) FROM records GROUP BY kind, audience ORDER BY 1, 2"
        ) as cursor:
            return [(row[0], row[1], row[2]) async for row in cursor]

    async def feeds(self) -> list[tuple[bytes, str, int]]:
        async with self._db.reader.execute(
            "SELECT origin, audience, max_seq FROM feeds ORDER BY origin, audience"
        ) as cursor:
            return [(row[0], row[1], row[2]) async for row in cursor]

    async def forks(self) -> list[Fork]:
        async with self._db.reader.execute(
            "SELECT origin, audience, seq, first_id, id, detected_ms FROM forks "
            "ORDER BY detected_ms, id"
        ) as cursor:
            return [Fork(*row) async for row in cursor]

    async def flagged_origins(self) -> list[bytes]:
        async with self._db.reader.execute(
            "SELECT DISTINCT origin FROM forks ORDER BY origin"
        ) as cursor:
            return [row[0] async for row in cursor]

    async def _select(self, tail: str, params: Sequence[Any]) -> list[StoredRecord]:
        # tail is assembled from fixed SQL fragments; values are bound parameters.
        sql = f"{_SELECT_RECORDS} {tail}"
        async with self._db.reader.execute(
            sql,
            params,
        ) as cursor:
            return [
                StoredRecord(
                    rid=rid,
                    envelope=decode_envelope(envelope),
                    envelope_bytes=envelope,
                    signature=signature,
                    body=body,
                    erased=erased_ms is not None,
                )
                async for rid, envelope, signature, body, erased_ms in cursor
            ]

    async def _ingest(
        self,
        conn: aiosqlite.Connection,
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
        subjects = {
            decision.subject
            for record in records
            if record.envelope.origin in trust.stewards
            and (decision := decision_of(record)) is not None
        }
        if subjects:
            ids = {record.id for record in records}
            waiting = await quarantine.release(conn, subjects)
            if waiting:
                _log.info("released quarantined records", released=len(waiting))
            records = [*records, *(r for r in waiting if r.id not in ids)]
        decided: list[Member] = []
        held: list[VerifiedRecord] = []
        results: dict[int, IngestResult] = {}
        next_seq: dict[tuple[bytes, str], int] = {}
        new_rows: list[tuple[Any, ...]] = []
        new_bodies: list[tuple[int, bytes]] = []
        new_forks: list[tuple[Any, ...]] = []
        tombstones: list[tuple[bytes, int]] = []
        new_summaries: list[tuple[int, str]] = []
        seen: dict[bytes, int] = {}
        rows = await conn.execute_fetchall("SELECT COALESCE(MAX(rid), 0) FROM records")
        rid = next(iter(rows))[0]
        stored_seq = await _max_seqs(
            conn, {(r.envelope.origin, r.envelope.audience) for r in records}
        )

        # Apply in feed order, so a batch may list a feed's records in any order; the
        # stewards' feeds first, so their decisions apply to the rest of the batch.
        order = sorted(
            range(len(records)),
            key=lambda i: (
                records[i].envelope.origin not in trust.stewards,
                records[i].envelope.origin,
                records[i].envelope.audience,
                records[i].envelope.seq,
            ),
        )
        # Only records of keys no steward has decided on can be waiting in the quarantine.
        quarantined = await quarantine.held_ids(
            conn,
            [
                r.id
                for r in records
                if not own
                and trust.judge(r.envelope.origin, r.envelope.created_ms, staged)
                is Standing.QUARANTINE
                and r.envelope.seq > stored_seq.get((r.envelope.origin, r.envelope.audience), 0)
            ],
        )
        for index in order:
            record = records[index]
            env = record.envelope
            feed = (env.origin, env.audience)
            if feed not in next_seq:
                next_seq[feed] = stored_seq.get(feed, 0) + 1
            standing = (
                Standing.ACCEPT
                if own or env.seq < next_seq[feed]
                else trust.judge(env.origin, env.created_ms, staged)
            )
            if record.id in seen or record.id in quarantined:
                results[index] = IngestResult(record.id, Outcome.DUPLICATE)
            elif isinstance(standing, ProtocolError):
                results[index] = IngestResult(record.id, Outcome.REJECTED, standing)
                decider = staged.get(env.origin) or trust.member(env.origin)
                if env.seq == next_seq[feed] and decider is not None:
                    # Refused because its key was suspended or revoked: a peer that took
                    # it before it learnt so holds it too. Keep the envelope only, as a
                    # withdrawn tombstone, so the feed stays contiguous and the two
                    # nodes' vectors still agree; the body is never stored.
                    rid += 1
                    new_rows.append(_record_row(rid, record, now, tombstone=True))
                    tombstones.append((decider.record_id, rid))
                    next_seq[feed] += 1
                    seen[record.id] = index
            elif standing is Standing.QUARANTINE:
                held.append(record)
                seen[record.id] = index
                results[index] = IngestResult(record.id, Outcome.QUARANTINED)
            elif env.seq == next_seq[feed]:
                rid += 1
                new_rows.append(_record_row(rid, record, now))
                if record.body is not None:
                    new_bodies.append((rid, record.body))
                if (text := summary_text(record.content)) is not None:
                    new_summaries.append((rid, text))
                next_seq[feed] += 1
                seen[record.id] = index
                results[index] = IngestResult(record.id, Outcome.ACCEPTED)
                decision = decision_of(record) if env.origin in trust.stewards else None
                if decision is not None and trust.supersedes(decision, staged):
                    staged[decision.subject] = decision
                    decided.append(decision)
            elif env.seq < next_seq[feed]:
                first = await _id_at(conn, env, new_rows)
                if first == record.id:
                    results[index] = IngestResult(record.id, Outcome.DUPLICATE)
                else:
                    new_forks.append(
                        (
                            record.id,
                            env.origin,
                            env.audience,
                            env.seq,
                            record.envelope_bytes,
                            record.signature,
                            first,
                            now,
                        )
                    )
                    results[index] = IngestResult(record.id, Outcome.FORK)
            else:
                gap = SeqGapError(
                    f"seq {env.seq} leaves a gap: the feed's next seq is {next_seq[feed]}"
                )
                results[index] = IngestResult(record.id, Outcome.REJECTED, gap)

        if new_rows:
            await conn.executemany(_INSERT_RECORD, new_rows)
            await conn.executemany("INSERT INTO bodies (rid, body) VALUES (?, ?)", new_bodies)
            await conn.executemany(
                "INSERT INTO summaries (rowid, summary) VALUES (?, ?)", new_summaries
            )
            await conn.executemany(
                "INSERT INTO feeds (origin, audience, max_seq) VALUES (?, ?, ?) "
                "ON CONFLICT (origin, audience) DO UPDATE SET max_seq = excluded.max_seq",
                # A feed whose records were all quarantined has no row: max_seq is >= 1.
                [
                    (origin, audience, seq - 1)
                    for (origin, audience), seq in next_seq.items()
                    if seq > 1
                ],
            )
        if new_forks:
            await conn.executemany(
                "INSERT OR IGNORE INTO forks (id, origin, audience, seq, envelope, signature,"
                " first_id, detected_ms) VALUES (?,?,?,?,?,?,?,?)",
                new_forks,
            )
        if new_rows:
            await add_to_rollup(conn, new_rows[0][0], rid)
            await apply_versions(conn, new_rows[0][0], rid, trust.stewards, now)
        await withdraw(conn, tombstones, now)
        if held:
            await quarantine.hold(conn, held, now)
        if decided:
            await self._decide(conn, decided, staged, now)
        # Results for the records asked about; released ones went where they belong.
        return [results[i] for i in range(asked)]

    async def _decide(
        self,
        conn: aiosqlite.Connection,
        decided: Sequence[Member],
        staged: dict[bytes, Member],
        now: int,
    ) -> None:
        """Store new steward decisions and apply them to stored and quarantined records."""
        latest = {m.subject: staged[m.subject] for m in decided}
        await save_members(conn, latest.values())
        for member in latest.values():
            if member.action == "revoke":
                await withdraw_revoked(conn, member, now)
        await self._release(conn, set(latest), staged)

    async def _release(
        self, conn: aiosqlite.Connection, origins: set[bytes], staged: dict[bytes, Member]
    ) -> None:
        """Judge again the quarantined records of ``origins``; those refused now are dropped."""
        released = await quarantine.release(conn, origins)
        if not released:
            return
        results = await self._ingest(conn, released, staged)
        counts = {o.value: sum(1 for r in results if r.outcome is o) for o in Outcome}
        _log.info("released quarantined records", **{k: n for k, n in counts.items() if n})

    async def _bound_quarantine(self, conn: aiosqlite.Connection) -> None:
        await quarantine.enforce_bound(conn, self._quarantine_max_bytes)


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


async def _max_seqs(
    conn: aiosqlite.Connection, feeds: set[tuple[bytes, str]]
) -> dict[tuple[bytes, str], int]:
    """The stored max_seq of each feed in ``feeds`` that exists, in one query per 500 origins."""
    origins = sorted({origin for origin, _ in feeds})
    held: dict[tuple[bytes, str], int] = {}
    for start in range(0, len(origins), 500):
        part = origins[start : start + 500]
        marks = ",".join("?" * len(part))  # placeholders only; the values are bound
        rows = await conn.execute_fetchall(
            f"SELECT origin, audience, max_seq FROM feeds WHERE origin IN ({marks})",  # noqa: S608
            part,
        )
        held.update(((origin, audience), int(seq)) for origin, audience, seq in rows)
    return held


async def _id_at(
    conn: aiosqlite.Connection, env: Envelope, pending: Sequence[tuple[Any, ...]]
) -> bytes:
    """The id of the record already holding ``env``'s feed slot (stored or in this batch)."""
    for new in pending:
        if new[2] == env.origin and new[3] == env.audience and new[4] == env.seq:
            return bytes(new[1])
    async with conn.execute(
        "SELECT id FROM records WHERE origin = ? AND audience = ? AND seq = ?",
        (env.origin, env.audience, env.seq),
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None, "feed max_seq covers a slot with no record"
    return bytes(row[0])
