"""Supersedes and retractions over a real store, in either order of arrival."""

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, VerifiedRecord, verify_record
from storage.migrations import MIGRATIONS
from storage.sql import split_statements
from storage.store import Store
from tests.factories import NETWORK, admit, incident_body, seeded_key, signed

STEWARD = seeded_key("steward")
CHAPTER = seeded_key("chapter")
OTHER = seeded_key("other chapter")


def verified(*records: SignedRecord) -> list[VerifiedRecord]:
    return [verify_record(r, network_id=NETWORK, limits=DEFAULT_LIMITS) for r in records]


def retraction(target: bytes, reason: str = "error") -> dict[str, Any]:
    return {"target": target.hex(), "reason": reason}


@pytest.fixture
def store_clock() -> Callable[[], int]:
    return lambda: 42


@pytest.fixture
def stewards() -> frozenset[bytes]:
    return frozenset({STEWARD.public_key})


@pytest.fixture
async def store(store: Store) -> Store:
    """The shared store, with this module's chapters admitted."""
    await admit(store, CHAPTER.public_key, OTHER.public_key, steward=STEWARD)
    return store


def state(store: Store, record_id: bytes) -> tuple[Any, ...]:
    with sqlite3.connect(store.db.path) as conn:
        row = conn.execute(
            "SELECT superseded_by, retracted_by, erased_ms, "
            "(SELECT COUNT(*) FROM bodies b WHERE b.rid = r.rid), "
            "(SELECT COUNT(*) FROM summaries s WHERE s.rowid = r.rid) "
            "FROM records r WHERE id = ?",
            (record_id,),
        ).fetchone()
    assert row is not None
    return tuple(row)


@pytest.mark.parametrize("order", ["old first", "new first"])
async def test_a_later_version_hides_the_earlier(store: Store, order: str) -> None:
    first = signed(CHAPTER, 1)
    second = signed(CHAPTER, 1, audience="network", body=incident_body(supersedes=first.id.hex()))
    batches = [[first], [second]] if order == "old first" else [[second], [first]]
    for batch in batches:
        await store.records.ingest(verified(*batch))
    assert state(store, first.id)[0] == second.id
    assert state(store, second.id)[0] is None


async def test_only_the_same_origin_can_supersede(store: Store) -> None:
    first = signed(CHAPTER, 1)
    impostor = signed(OTHER, 1, body=incident_body(supersedes=first.id.hex()))
    await store.records.ingest(verified(first, impostor))
    assert state(store, first.id)[0] is None


@pytest.mark.parametrize("order", ["target first", "retraction first"])
async def test_a_retraction_by_the_origin_erases_the_body(store: Store, order: str) -> None:
    target = signed(CHAPTER, 1)
    withdraw = signed(CHAPTER, 2, kind="retraction", body=retraction(target.id))
    records = verified(target, withdraw)
    if order == "retraction first":
        # Seqs must be contiguous, so the retraction travels in another feed here.
        withdraw = signed(
            CHAPTER, 1, audience="network", kind="retraction", body=retraction(target.id)
        )
        records = verified(withdraw, target)
    for record in records:
        await store.records.ingest([record])
    assert state(store, target.id) == (None, withdraw.id, 42, 0, 0)
    # The envelope stays as a tombstone; the body is never stored again.
    assert (await store.records.ingest(verified(target)))[0].outcome.value == "duplicate"
    stored = await store.records.get(target.id)
    assert stored is not None
    assert stored.erased
    assert stored.body is None


async def test_a_steward_can_retract_any_record(store: Store) -> None:
    target = signed(CHAPTER, 1)
    # The steward's public feed holds the admissions; this goes in another feed.
    withdraw = signed(
        STEWARD, 1, kind="retraction", body=retraction(target.id, "safety"), audience="network"
    )
    await store.records.ingest(verified(target, withdraw))
    assert state(store, target.id)[1] == withdraw.id


async def test_another_chapter_cannot_retract(store: Store) -> None:
    target = signed(CHAPTER, 1)
    withdraw = signed(OTHER, 1, kind="retraction", body=retraction(target.id))
    await store.records.ingest(verified(target, withdraw))
    assert state(store, target.id) == (None, None, None, 1, 1)


async def test_version_1_database_is_backfilled(tmp_path: Path) -> None:
    path = tmp_path / "banscan.db"
    record = signed(CHAPTER, 1)
    with sqlite3.connect(path, isolation_level=None) as conn:
        for statement in split_statements(MIGRATIONS[0]):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO records (rid, id, origin, audience, seq, created_ms, kind, envelope,"
            " signature, received_ms) VALUES (1, ?, ?, 'public', 1, 1, 'incident', ?, ?, 1)",
            (record.id, CHAPTER.public_key, record.envelope_bytes, record.signature),
        )
        conn.execute("INSERT INTO bodies (rid, body) VALUES (1, ?)", (record.body,))
    store = await Store.open(path)
    await store.close()
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT country, technology, area, status FROM records").fetchone()
        hits = conn.execute("SELECT rowid FROM summaries WHERE summaries MATCH 'vans'").fetchall()
    assert row == ("US", "live_frt", "dr5ru7", "corroborated")
    assert hits == [(1,)]
