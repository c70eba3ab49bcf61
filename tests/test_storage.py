"""The store over a real SQLite file: migrations, ingest outcomes, indexed columns, tokens."""

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from federation.verifier import Verifier
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, VerifiedRecord, verify_record
from storage import SchemaVersionError
from storage.classify import Outcome
from storage.ingest import ingest_batch
from storage.migrations import MIGRATIONS
from storage.store import Store
from storage.stored import RecordFilter
from storage.tokens import Role
from tests.factories import NETWORK, deployment_body, feed, seeded_key, signed
from tests.map_migration import UNDO_MAP_GRID


def verified(records: list[SignedRecord]) -> list[VerifiedRecord]:
    return [verify_record(r, network_id=NETWORK, limits=DEFAULT_LIMITS) for r in records]


# These tests are about feeds, not trust: their keys are stewards, whose records are
# always accepted (tests/test_members.py covers the trust rule).
STEWARDS = frozenset(seeded_key(label).public_key for label in ("chapter", "a", "b"))


@pytest.fixture
def store_clock() -> Callable[[], int]:
    return lambda: 1_000


@pytest.fixture
def stewards() -> frozenset[bytes]:
    return STEWARDS


async def test_fresh_database_is_migrated_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "banscan.db"
    store = await Store.open(path)
    assert await store.db.schema_version() == len(MIGRATIONS)
    await store.close()
    reopened = await Store.open(path)  # migrating again is a no-op
    assert await reopened.db.schema_version() == len(MIGRATIONS)
    await reopened.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "banscan.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(SchemaVersionError, match="upgrade banscan"):
        await Store.open(path)


async def test_ingest_outcomes(store: Store) -> None:
    key = seeded_key("chapter")
    first = verified(feed(key, 3))
    assert [r.outcome for r in await store.records.ingest(first)] == [Outcome.ACCEPTED] * 3
    assert [r.outcome for r in await store.records.ingest(first)] == [Outcome.DUPLICATE] * 3
    assert await store.records.feeds() == [(key.public_key, "public", 3)]


async def test_batch_order_within_a_feed_does_not_matter(store: Store) -> None:
    records = verified(feed(seeded_key("a"), 5) + feed(seeded_key("b"), 5))
    results = await store.records.ingest(list(reversed(records)))
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    assert len(await store.records.page(RecordFilter(), limit=100)) == 10


async def test_seq_gap_rolls_back_an_atomic_batch(store: Store) -> None:
    key = seeded_key("chapter")
    records = verified(feed(key, 4))
    results = await store.records.ingest([records[0], records[1], records[3]])
    assert [r.outcome for r in results] == [Outcome.REJECTED] * 3
    assert results[2].code == "seq-gap"
    assert results[0].code == "batch-rejected"
    assert await store.records.page(RecordFilter()) == []
    assert await store.records.feeds() == []


async def test_seq_gap_alone_is_rejected_in_a_non_atomic_batch(store: Store) -> None:
    records = verified(feed(seeded_key("chapter"), 4))
    results = await store.records.ingest([records[0], records[3]], atomic=False)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.REJECTED]
    assert len(await store.records.page(RecordFilter())) == 1


async def test_fork_keeps_evidence_and_serves_the_first(store: Store) -> None:
    key = seeded_key("chapter")
    original = verified([signed(key, 1)])[0]
    rival = verified([signed(key, 1, created_ms=5)])[0]
    assert original.id != rival.id
    await store.records.ingest([original])
    results = await store.records.ingest([rival])
    assert results[0].outcome is Outcome.FORK
    assert await store.records.get(rival.id) is None
    kept = await store.records.get(original.id)
    assert kept is not None
    [fork] = await store.records.forks()
    assert (fork.first_id, fork.second_id, fork.seq) == (original.id, rival.id, 1)
    assert await store.records.flagged_origins() == [key.public_key]


async def test_fork_inside_one_batch(store: Store) -> None:
    key = seeded_key("chapter")
    records = verified([signed(key, 1), signed(key, 1, created_ms=9)])
    results = await store.records.ingest(records)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.FORK]


async def test_indexed_columns_are_filled_at_insert(store: Store) -> None:
    key = seeded_key("chapter")
    records = verified([signed(key, 1), signed(key, 2, kind="deployment", body=deployment_body())])
    await store.records.ingest(records)
    with sqlite3.connect(store.db.path) as conn:
        rows = conn.execute(
            "SELECT kind, country, city, category, occurred_on, frt FROM records ORDER BY seq"
        ).fetchall()
    assert rows == [
        ("incident", "US", "New York", "protest_surveillance", "2025-03-14", None),
        ("deployment", "US", "New York", None, None, "suspected"),
    ]


async def test_migration_8_fills_the_frt_column_of_stored_deployments(tmp_path: Path) -> None:
    path = tmp_path / "banscan.db"
    store = await Store.open(path, stewards=STEWARDS)
    key = seeded_key("chapter")
    await store.records.ingest(
        verified(
            [
                signed(key, 1),
                signed(key, 2, kind="deployment", body=deployment_body()),
                signed(
                    key,
                    3,
                    kind="deployment",
                    body=deployment_body(frt_capability={"status": "confirmed", "basis": []}),
                ),
            ]
        )
    )
    await store.close()
    with sqlite3.connect(path, isolation_level=None) as conn:  # back to version 7
        conn.executescript(UNDO_MAP_GRID)
        # Every index on the column goes with it (records_frt, and later migrations').
        on_frt = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%frt%'"
        ).fetchall()
        for (name,) in on_frt:
            conn.execute(f"DROP INDEX {name}")
        conn.execute("ALTER TABLE records DROP COLUMN frt")
        conn.execute("PRAGMA user_version = 7")
    store = await Store.open(path, stewards=STEWARDS)
    await store.close()
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT kind, frt FROM records ORDER BY seq").fetchall()
    assert rows == [("incident", None), ("deployment", "suspected"), ("deployment", "confirmed")]


async def test_unknown_kind_is_stored_opaque(store: Store) -> None:
    key = seeded_key("chapter")
    record = verified([signed(key, 1, kind="camera_audit", body=b"\xc1not msgpack")])[0]
    assert record.content is None
    assert (await store.records.ingest([record]))[0].outcome is Outcome.ACCEPTED
    stored = await store.records.get(record.id)
    assert stored is not None
    assert stored.body == b"\xc1not msgpack"


async def test_filters_and_cursor(store: Store) -> None:
    a, b = seeded_key("a"), seeded_key("b")
    await store.records.ingest(
        verified(
            feed(a, 3)
            + feed(b, 2, audience="network")
            + [signed(a, 1, kind="deployment", body=deployment_body(), audience="coordinators")]
        )
    )
    assert len(await store.records.page(RecordFilter(origin=a.public_key))) == 4
    assert len(await store.records.page(RecordFilter(audiences=("public",)))) == 3
    assert len(await store.records.page(RecordFilter(kinds=("deployment",)))) == 1
    since = 1_760_000_000_000 + 3
    assert {r.envelope.seq for r in await store.records.page(RecordFilter(since_ms=since))} == {3}
    first = await store.records.page(RecordFilter(), limit=4)
    rest = await store.records.page(RecordFilter(), after_rid=first[-1].rid, limit=4)
    assert len(first) == 4
    assert len(rest) == 2
    assert not {r.id for r in first} & {r.id for r in rest}
    assert [r.id async for r in store.records.iterate(RecordFilter(), page=2)] == [
        r.id for r in first + rest
    ]


async def test_verifier_reports_each_bad_record(store: Store) -> None:
    key = seeded_key("chapter")
    good = feed(key, 20)
    bad = SignedRecord(good[5].envelope_bytes, bytes(64), good[5].body)
    verifier = Verifier(NETWORK, DEFAULT_LIMITS, threads=2)
    try:
        results = await ingest_batch(
            verifier, store.records, [*good[:5], bad, *good[6:]], atomic=True
        )
    finally:
        verifier.close()
    assert results[5].code == "bad-signature"
    assert {r.code for i, r in enumerate(results) if i != 5} == {"batch-rejected"}
    assert await store.records.page(RecordFilter()) == []


async def test_tokens_are_stored_hashed(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "banscan.db")
    token = await store.tokens.create(Role.ANALYST, "coordinator laptop")
    info = await store.tokens.lookup(token)
    assert info is not None
    assert info.role is Role.ANALYST
    assert await store.tokens.lookup(token + "x") is None
    await store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert token.encode() not in raw
    assert token.removeprefix("bst_").encode() not in raw
