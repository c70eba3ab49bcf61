"""The two-stage ingest (storage.pending, storage.indexer): a deferred batch is decided as
an inline one is, the tables it leaves once indexed are byte-equal, and what was
acknowledged is readable by id and by sync before the indexer reaches it."""

import random
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgpack

from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, VerifiedRecord, verify_record
from protocol.sync import Want
from storage.classify import IngestResult, Outcome
from storage.filters import QueryFilter
from storage.store import Store
from tests.factories import NETWORK, STEWARD, admit, membership, seeded_key, signed
from tests.querydata import CHAPTERS, Generated, Item, add_random, supersede_and_retract

NOW = 1_800_000_000_000
STEWARDS = frozenset({STEWARD.public_key})
STRANGER = seeded_key("stranger")
LATE = seeded_key("late chapter")
# Every table the index or stage 1 writes; compared row for row between the two paths.
TABLES = (
    "records",
    "bodies",
    "summaries",
    "feeds",
    "forks",
    "quarantine",
    "members",
    "stats_rollup",
    "stats_cells",
    "stats_facets",
    "map_grid",
    "map_areas",
    "pending",
)


def checked(records: Sequence[SignedRecord]) -> list[VerifiedRecord]:
    return [verify_record(r, network_id=NETWORK, limits=DEFAULT_LIMITS) for r in records]


def batches() -> list[tuple[list[SignedRecord], bool]]:
    """(batch, atomic) in order: new records, versions and retractions (also before their
    targets), a re-sent batch, a fork, a seq gap, a stranger's records (quarantined), a
    steward admitting the stranger (inline: releases the quarantine), more of everyone."""
    data, rng = Generated(), random.Random(7)
    first = [i.record for i in add_random(data, rng, 300)]
    versions = [i.record for i in supersede(data, rng, 40)]
    changes = [i.record for i in supersede_and_retract(data, rng, 40)]
    fresh = [i.record for i in add_random(data, rng, 60)]
    later = [i.record for i in supersede_and_retract(data, rng, 20)]
    chapter = CHAPTERS[0]
    seq = data.seqs[(chapter.public_key, "public")]
    fork = signed(chapter, seq, body=msgpack.packb({"not": "the same"}), kind="note")
    gap = signed(chapter, seq + 5)
    strangers = [signed(STRANGER, n) for n in (1, 2, 3)]
    admitted = signed(STEWARD, 3, kind="membership", body=membership(STRANGER.public_key))
    return [
        (first[:150], True),
        (first[150:], True),
        (versions, True),  # deferred: later versions only (a retraction goes inline)
        ([*changes[20:], *fresh, *changes[:20]], True),
        (first[:20], True),  # duplicates
        ([*later[10:], *later[:10]], True),
        ([fork, gap, *strangers[:2]], False),
        ([gap], True),  # rejected whole
        ([admitted, strangers[2]], False),
        ([signed(STRANGER, 4), signed(LATE, 1)], False),
    ]


def supersede(data: Generated, rng: random.Random, count: int) -> list[Item]:
    """Later versions of ``count`` current records, no retraction among them."""
    new = []
    for old in rng.sample([i for i in data.items if i.current], count):
        body = dict(old.body, supersedes=old.id)
        new.append(data.add(old.origin, old.kind, old.audience, body, old.created_ms + 7))
        old.current = False
    return new


def described(result: IngestResult) -> tuple[bytes, Outcome, str | None, str | None]:
    return (result.id, result.outcome, result.code, result.detail)


async def opened(path: Path) -> Store:
    store = await Store.open(path, clock=lambda: NOW, stewards=STEWARDS)
    await admit(store, *(key.public_key for key in CHAPTERS))
    return store


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as conn:
        return {
            name: sorted(conn.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
            for name in TABLES
        }


async def settled(store: Store) -> None:
    assert await store.records.indexer.caught_up(10)
    assert store.records.indexer.backlog == 0


async def test_deferred_batches_end_in_the_same_tables_as_inline_ones(tmp_path: Path) -> None:
    inline, deferred = await opened(tmp_path / "a.db"), await opened(tmp_path / "b.db")
    outcomes: set[Outcome] = set()
    try:
        # Stopped: the log fills until the steward's batch (inline) indexes it, in
        # parts (storage.pending.PART) of one transaction; started again after it.
        await deferred.records.indexer.stop()
        todo = batches()
        for batch, atomic in todo:
            if batch is todo[-1][0]:
                assert deferred.records.indexer.backlog == 0
                await deferred.records.indexer.start()
            records = checked(batch)
            expected = await inline.records.ingest(records, atomic=atomic)
            got = await deferred.records.ingest(records, atomic=atomic, defer=True)
            assert [described(r) for r in got] == [described(r) for r in expected]
            if batch is todo[2][0]:  # new records and later versions wait in the log
                assert deferred.records.indexer.backlog == 340
            outcomes.update(r.outcome for r in got)
        assert outcomes == set(Outcome)
        await settled(deferred)
    finally:
        await inline.close()
        await deferred.close()
    a, b = dump(tmp_path / "a.db"), dump(tmp_path / "b.db")
    assert all(a[name] for name in ("records", "forks", "stats_rollup", "map_areas", "members"))
    assert not b["pending"]
    assert a == b


async def test_acknowledged_records_are_read_by_id_and_by_sync_before_indexing(
    tmp_path: Path,
) -> None:
    inline, deferred = await opened(tmp_path / "a.db"), await opened(tmp_path / "b.db")
    try:
        await deferred.records.indexer.stop()
        feed = [signed(CHAPTERS[1], seq) for seq in range(1, 21)]
        await inline.records.ingest(checked(feed[:10]))
        await deferred.records.ingest(checked(feed[:10]))  # inline: indexed
        for store in (inline, deferred):
            results = await store.records.ingest(checked(feed[10:]), defer=store is deferred)
            assert all(r.outcome is Outcome.ACCEPTED for r in results)
        assert deferred.records.indexer.backlog == 10
        got = await deferred.records.get(feed[15].id)
        assert got is not None
        assert got.signed() == feed[15]
        want = [Want(CHAPTERS[1].public_key, "public", 5, 20)]
        for store in (inline, deferred):
            read = await store.feeds.read(want, max_records=100, max_bytes=1 << 20)
            assert read == feed[5:]
        assert await deferred.feeds.vector2(["public"]) == await inline.feeds.vector2(["public"])
        key = (CHAPTERS[1].public_key, "public")
        assert await deferred.feeds.slot_ids(key, 0, 20) == [r.id for r in feed]
        # Queries read the index: exact as of the indexer's position.
        query = QueryFilter("incident", ("public",), origins=(CHAPTERS[1].public_key,))
        assert (await deferred.queries.stats(query, ())).total.count == 10
        # The inline path indexes the log first, so arrival order holds.
        late = checked([signed(CHAPTERS[1], 21)])
        assert (await deferred.records.ingest(late))[0].outcome is Outcome.ACCEPTED
        assert (await deferred.queries.stats(query, ())).total.count == 21
        assert deferred.records.indexer.backlog == 0
    finally:
        await inline.close()
        await deferred.close()


async def test_a_row_that_no_longer_passes_its_schema_is_set_aside(tmp_path: Path) -> None:
    store = await opened(tmp_path / "a.db")
    try:
        await store.records.indexer.stop()
        feed = checked([signed(CHAPTERS[2], seq) for seq in range(1, 6)])
        await store.records.ingest(feed, defer=True)

        def narrow(conn: sqlite3.Connection) -> None:  # as if an upgrade narrowed the schema
            conn.execute("UPDATE pending SET body = ? WHERE seq = 2", (msgpack.packb({"nope": 1}),))

        await store.db.write(narrow)
        await store.records.indexer.start()
        await settled(store)
        assert store.records.indexer.set_aside == 1
        query = QueryFilter("incident", ("public",), origins=(CHAPTERS[2].public_key,))
        assert (await store.queries.stats(query, ())).total.count == 4
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "a.db") as conn:
        assert conn.execute("SELECT seq, set_aside IS NOT NULL FROM pending").fetchall() == [(2, 1)]


async def test_a_row_that_breaks_its_step_is_set_aside_and_the_rest_indexed(
    tmp_path: Path,
) -> None:
    store = await opened(tmp_path / "a.db")
    try:
        await store.records.indexer.stop()
        feed = checked([signed(CHAPTERS[3], seq) for seq in range(1, 11)])
        await store.records.ingest(feed[:5])
        await store.records.ingest(feed[5:], defer=True)

        def clash(conn: sqlite3.Connection) -> None:  # a slot the index already holds
            conn.execute(
                "INSERT INTO pending (id, origin, audience, seq, envelope, signature, body,"
                " received_ms) SELECT r.id, r.origin, r.audience, r.seq, r.envelope,"
                " r.signature, b.body, 1 FROM records r JOIN bodies b ON b.rid = r.rid"
                " WHERE r.seq = 3 AND r.origin = ?",
                (CHAPTERS[3].public_key,),
            )

        await store.db.write(clash)
        await store.records.indexer.start()
        await settled(store)
        assert store.records.indexer.set_aside == 1
        query = QueryFilter("incident", ("public",), origins=(CHAPTERS[3].public_key,))
        assert (await store.queries.stats(query, ())).total.count == 10
    finally:
        await store.close()


async def test_a_body_already_retracted_never_waits_in_the_log(tmp_path: Path) -> None:
    store = await opened(tmp_path / "a.db")
    try:
        await store.records.indexer.stop()
        key = CHAPTERS[0]
        target = signed(key, 1)  # public; its retraction travels in another feed first
        withdraw = {"target": target.id.hex(), "reason": "error"}
        retraction = signed(key, 1, audience="network", kind="retraction", body=withdraw)
        await store.records.ingest(checked([retraction]), defer=True)
        results = await store.records.ingest(checked([target]), defer=True)
        assert results[0].outcome is Outcome.ACCEPTED
        assert store.records.indexer.backlog == 0
        held = await store.records.get(target.id)
        assert held is not None
        assert held.erased
        assert held.body is None
    finally:
        await store.close()
