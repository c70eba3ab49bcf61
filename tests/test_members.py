"""The trust rule over a real store: membership state, acceptance, quarantine, suspension,
revocation and steward retraction (docs/protocol.md section 7.1)."""

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from protocol.errors import OriginRevokedError, OriginSuspendedError
from protocol.keys import NodeKey
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, VerifiedRecord, verify_record
from protocol.trust import Member
from storage.classify import IngestResult, Outcome
from storage.store import Store
from tests.factories import NETWORK, feed, incident_body, membership, seeded_key, signed

STEWARD = seeded_key("members steward")
OTHER_STEWARD = seeded_key("members other steward")
CHAPTER = seeded_key("members chapter")
STRANGER = seeded_key("members stranger")
T0 = 1_760_000_000_000


def verified(*records: SignedRecord) -> list[VerifiedRecord]:
    return [verify_record(r, network_id=NETWORK, limits=DEFAULT_LIMITS) for r in records]


class Steward:
    """Signs a steward's membership records with contiguous seqs in its public feed."""

    def __init__(self, key: NodeKey) -> None:
        self.key = key
        self.seq = 0

    def decide(self, subject: NodeKey, action: str, at: int, **fields: Any) -> SignedRecord:
        self.seq += 1
        body = membership(subject.public_key, action, **fields)
        # signed() adds the seq to created_ms; take it back so the decision is at ``at``.
        return signed(self.key, self.seq, kind="membership", body=body, created_ms=at - self.seq)


def at(key: NodeKey, seq: int, created_ms: int, **kwargs: Any) -> SignedRecord:
    """Record ``seq`` of ``key``'s public feed, created at exactly ``created_ms``."""
    return signed(key, seq, created_ms=created_ms - seq, **kwargs)


async def ingest(store: Store, *records: SignedRecord, atomic: bool = True) -> list[Outcome]:
    return [r.outcome for r in await store.records.ingest(verified(*records), atomic=atomic)]


async def results(store: Store, *records: SignedRecord) -> list[IngestResult]:
    return await store.records.ingest(verified(*records), atomic=False)


def count(store: Store, sql: str, *params: Any) -> int:
    with sqlite3.connect(store.db.path) as conn:
        return int(conn.execute(sql, params).fetchone()[0])


@pytest.fixture
def store_clock() -> Callable[[], int]:
    return lambda: 42


@pytest.fixture
def stewards() -> frozenset[bytes]:
    return frozenset({STEWARD.public_key})


@pytest.fixture
def steward() -> Steward:
    return Steward(STEWARD)


# --- the acceptance rule ----------------------------------------------------------------------


async def test_a_stewards_records_are_accepted(store: Store) -> None:
    assert await ingest(store, *feed(STEWARD, 2)) == [Outcome.ACCEPTED] * 2


async def test_an_unknown_origin_is_quarantined_and_not_served(store: Store) -> None:
    records = feed(STRANGER, 3)
    assert await ingest(store, *records) == [Outcome.QUARANTINED] * 3
    assert await store.records.get(records[0].id) is None
    assert await store.records.feeds() == []
    assert await store.records.counts() == []
    assert await store.records.quarantine_totals() == (
        3,
        sum(len(r.envelope_bytes) + len(r.signature) + len(r.body or b"") for r in records),
    )
    # Again: the quarantine already holds them.
    assert await ingest(store, *records) == [Outcome.DUPLICATE] * 3


async def test_an_admitted_member_is_accepted(store: Store, steward: Steward) -> None:
    admit = steward.decide(CHAPTER, "admit", T0)
    outcomes = await ingest(store, admit, *feed(CHAPTER, 2))
    assert outcomes == [Outcome.ACCEPTED] * 3
    assert store.trust.is_member(CHAPTER.public_key)


async def test_a_suspension_refuses_records_created_since(store: Store, steward: Steward) -> None:
    await ingest(store, steward.decide(CHAPTER, "admit", T0))
    await ingest(store, steward.decide(CHAPTER, "suspend", T0 + 100))
    before = at(CHAPTER, 1, T0 + 99)
    same = at(CHAPTER, 2, T0 + 100)
    after = at(CHAPTER, 3, T0 + 200)
    assert await ingest(store, before) == [Outcome.ACCEPTED]
    for late in (same, after):
        [result] = await results(store, late)
        assert result.outcome is Outcome.REJECTED
        assert isinstance(result.error, OriginSuspendedError)
        assert result.code == "origin-suspended"
        # Kept as an envelope-only tombstone, so the feed stays contiguous and agrees
        # with a peer that took the record before it learnt of the suspension.
        tomb = await store.records.get(late.id)
        assert tomb is not None
        assert tomb.erased
        assert tomb.body is None
    assert (CHAPTER.public_key, "public", 3) in await store.records.feeds()
    assert not store.trust.is_member(CHAPTER.public_key)
    assert store.trust.role(CHAPTER.public_key) is None


async def test_a_revocation_refuses_records_created_since_compromise(
    store: Store, steward: Steward
) -> None:
    await ingest(store, steward.decide(CHAPTER, "admit", T0))
    revoke = steward.decide(CHAPTER, "revoke", T0 + 500, compromised_since_ms=T0 + 100)
    await ingest(store, revoke)
    assert await ingest(store, at(CHAPTER, 1, T0 + 99)) == [Outcome.ACCEPTED]
    [result] = await results(store, at(CHAPTER, 2, T0 + 100))
    assert isinstance(result.error, OriginRevokedError)
    assert result.error.status == 403


async def test_a_refused_record_rolls_back_an_atomic_batch(store: Store, steward: Steward) -> None:
    await ingest(store, steward.decide(CHAPTER, "admit", T0))
    await ingest(store, steward.decide(CHAPTER, "suspend", T0 + 100))
    outcomes = await ingest(store, at(CHAPTER, 1, T0 + 1), at(CHAPTER, 2, T0 + 200))
    assert outcomes == [Outcome.REJECTED, Outcome.REJECTED]
    assert await store.records.feeds() == [(STEWARD.public_key, "public", 2)]


async def test_a_batch_with_quarantined_records_is_not_a_failure(store: Store) -> None:
    outcomes = await ingest(store, *feed(STEWARD, 1), *feed(STRANGER, 1), atomic=True)
    assert outcomes == [Outcome.ACCEPTED, Outcome.QUARANTINED]


async def test_the_nodes_own_records_are_stored_whatever_its_standing(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "own.db", stewards=frozenset({STEWARD.public_key}))
    try:
        record = verified(signed(STRANGER, 1))[0]
        stored = await store.records.append(STRANGER.public_key, "public", lambda _: record)
        assert await store.records.get(stored.id) is not None
    finally:
        await store.close()


# --- membership state -------------------------------------------------------------------------


async def test_the_latest_decision_wins_whatever_the_arrival_order(
    store: Store, steward: Steward
) -> None:
    admit = steward.decide(CHAPTER, "admit", T0 + 200)
    older_suspend = steward.decide(CHAPTER, "suspend", T0 + 100)
    await ingest(store, admit, older_suspend)
    member = store.trust.member(CHAPTER.public_key)
    assert member is not None
    assert (member.action, member.record_id) == ("admit", admit.id)


async def test_a_tie_in_created_ms_goes_to_the_larger_record_id(store: Store) -> None:
    one, two = Steward(STEWARD), Steward(STEWARD)
    two.seq = 1
    first = one.decide(CHAPTER, "admit", T0)
    second = two.decide(CHAPTER, "suspend", T0)
    await ingest(store, first, second)
    winner = max((first, second), key=lambda r: r.id)
    member = store.trust.member(CHAPTER.public_key)
    assert member is not None
    assert member.record_id == winner.id


async def test_membership_records_of_non_stewards_decide_nothing(store: Store) -> None:
    imposter = Steward(STRANGER)
    await ingest(store, imposter.decide(CHAPTER, "admit", T0))
    assert store.trust.member(CHAPTER.public_key) is None
    assert await ingest(store, *feed(CHAPTER, 1)) == [Outcome.QUARANTINED]


async def test_trust_answers_roles_and_audiences(store: Store, steward: Steward) -> None:
    coordinator = seeded_key("members coordinator")
    version = store.trust.version
    await ingest(
        store,
        steward.decide(CHAPTER, "admit", T0),
        steward.decide(coordinator, "admit", T0, role="coordinator"),
    )
    trust = store.trust
    assert trust.version > version
    assert trust.stewards == frozenset({STEWARD.public_key})
    assert trust.role(STEWARD.public_key) == "steward"
    assert trust.role(coordinator.public_key) == "coordinator"
    assert trust.role(CHAPTER.public_key) == "chapter"
    assert trust.role(STRANGER.public_key) is None
    everything = frozenset({"public", "network", "coordinators"})
    assert trust.audiences_for(STEWARD.public_key) == everything
    assert trust.audiences_for(coordinator.public_key) == everything
    assert trust.audiences_for(CHAPTER.public_key) == frozenset({"public", "network"})
    assert trust.audiences_for(STRANGER.public_key) == frozenset({"public"})
    assert trust.audiences_for(None) == frozenset({"public"})
    assert [m.subject for m in trust.members()] == sorted(
        [CHAPTER.public_key, coordinator.public_key]
    )
    await ingest(store, steward.decide(CHAPTER, "suspend", T0 + 1))
    assert trust.audiences_for(CHAPTER.public_key) == frozenset({"public"})


async def test_a_rolled_back_batch_leaves_trust_unchanged(store: Store, steward: Steward) -> None:
    version = store.trust.version
    admit = steward.decide(CHAPTER, "admit", T0)
    gap = signed(STEWARD, 5)
    outcomes = await ingest(store, admit, gap, atomic=True)
    assert outcomes == [Outcome.REJECTED, Outcome.REJECTED]
    assert store.trust.version == version
    assert store.trust.member(CHAPTER.public_key) is None
    assert not store.trust.is_member(CHAPTER.public_key)
    assert count(store, "SELECT COUNT(*) FROM members") == 0


async def test_the_state_survives_a_restart_and_follows_the_configured_stewards(
    tmp_path: Path,
) -> None:
    path = tmp_path / "banscan.db"
    steward = Steward(STEWARD)
    store = await Store.open(path, stewards=frozenset({STEWARD.public_key}))
    await ingest(store, steward.decide(CHAPTER, "admit", T0))
    await store.close()

    store = await Store.open(path, stewards=frozenset({STEWARD.public_key}))
    assert store.trust.is_member(CHAPTER.public_key)
    await store.close()

    # Another steward now: the first one's decisions no longer count.
    store = await Store.open(path, stewards=frozenset({OTHER_STEWARD.public_key}))
    assert store.trust.member(CHAPTER.public_key) is None
    assert count(store, "SELECT COUNT(*) FROM members") == 0
    await store.close()


# --- quarantine -------------------------------------------------------------------------------


async def test_records_before_their_admission_are_stored_when_it_arrives(
    store: Store, steward: Steward
) -> None:
    records = feed(CHAPTER, 3)
    assert await ingest(store, *records[1:]) == [Outcome.QUARANTINED] * 2
    assert await ingest(store, records[0]) == [Outcome.QUARANTINED]

    with capture_logs() as logs:
        assert await ingest(store, steward.decide(CHAPTER, "admit", T0)) == [Outcome.ACCEPTED]
    assert (CHAPTER.public_key, "public", 3) in await store.records.feeds()
    for record in records:
        stored = await store.records.get(record.id)
        assert stored is not None
        assert stored.body == record.body
    assert await store.records.quarantine_totals() == (0, 0)
    assert any(e["event"] == "released quarantined records" for e in logs)


async def test_quarantine_survives_a_restart_until_the_admission(tmp_path: Path) -> None:
    path = tmp_path / "banscan.db"
    stewards = frozenset({STEWARD.public_key})
    store = await Store.open(path, stewards=stewards)
    await ingest(store, *feed(CHAPTER, 2))
    await store.close()
    store = await Store.open(path, stewards=stewards)
    try:
        await ingest(store, Steward(STEWARD).decide(CHAPTER, "admit", T0))
        assert (CHAPTER.public_key, "public", 2) in await store.records.feeds()
    finally:
        await store.close()


async def test_a_stewards_records_that_waited_are_taken_when_it_becomes_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "banscan.db"
    store = await Store.open(path, stewards=frozenset({STEWARD.public_key}))
    decision = Steward(OTHER_STEWARD).decide(CHAPTER, "admit", T0)
    await ingest(store, decision, *feed(CHAPTER, 1))
    assert await store.records.quarantine_totals() != (0, 0)
    await store.close()
    store = await Store.open(path, stewards=frozenset({OTHER_STEWARD.public_key}))
    try:
        assert store.trust.is_member(CHAPTER.public_key)
        assert (CHAPTER.public_key, "public", 1) in await store.records.feeds()
        assert await store.records.quarantine_totals() == (0, 0)
    finally:
        await store.close()


async def test_quarantined_records_refused_by_the_decision_are_dropped(
    store: Store, steward: Steward
) -> None:
    refused = at(CHAPTER, 2, T0 + 150)
    await ingest(store, at(CHAPTER, 1, T0 + 50), refused)
    await ingest(store, steward.decide(CHAPTER, "suspend", T0 + 100))
    # The refused one is kept as a tombstone: envelope only, never served with a body.
    assert (CHAPTER.public_key, "public", 2) in await store.records.feeds()
    tomb = await store.records.get(refused.id)
    assert tomb is not None
    assert tomb.erased
    assert await store.records.quarantine_totals() == (0, 0)


async def test_a_seq_gap_in_released_records_drops_them(store: Store, steward: Steward) -> None:
    await ingest(store, *feed(CHAPTER, 4)[2:])
    await ingest(store, steward.decide(CHAPTER, "admit", T0))
    assert all(origin != CHAPTER.public_key for origin, _, _ in await store.records.feeds())
    assert await store.records.quarantine_totals() == (0, 0)
    # The missing records arrive later, and the rest again, as a sync would fetch them.
    assert await ingest(store, *feed(CHAPTER, 4)) == [Outcome.ACCEPTED] * 4


async def test_the_quarantine_bound_drops_the_oldest_first(tmp_path: Path) -> None:
    clock = iter(range(1_000, 2_000))
    records = [signed(seeded_key(f"members unknown {n}"), 1) for n in range(6)]
    size = len(records[0].envelope_bytes) + len(records[0].signature) + len(records[0].body or b"")
    store = await Store.open(
        tmp_path / "banscan.db",
        clock=lambda: next(clock),
        stewards=frozenset({STEWARD.public_key}),
        quarantine_max_bytes=4 * size,
    )
    try:
        for record in records[:4]:
            assert await ingest(store, record) == [Outcome.QUARANTINED]
        with capture_logs() as logs:
            await ingest(store, *records[4:])
        assert await store.records.quarantine_totals() == (4, 4 * size)
        held = {
            bytes(row[0])
            for row in sqlite3.connect(store.db.path).execute("SELECT id FROM quarantine")
        }
        assert held == {r.id for r in records[2:]}
        [warning] = [e for e in logs if e["log_level"] == "warning"]
        assert warning["dropped"] == 2
        assert "body" not in warning
    finally:
        await store.close()


# --- revocation and retraction ----------------------------------------------------------------


async def test_a_revocation_withdraws_records_created_since_compromise(
    store: Store, steward: Steward
) -> None:
    await ingest(store, steward.decide(CHAPTER, "admit", T0))
    old, compromised = at(CHAPTER, 1, T0 + 50), at(CHAPTER, 2, T0 + 150)
    await ingest(store, old, compromised)
    revoke = steward.decide(CHAPTER, "revoke", T0 + 300, compromised_since_ms=T0 + 100)
    await ingest(store, revoke)

    kept, withdrawn = await store.records.get(old.id), await store.records.get(compromised.id)
    assert kept is not None
    assert kept.body is not None
    assert withdrawn is not None
    assert withdrawn.erased
    assert withdrawn.body is None
    assert count(store, "SELECT COUNT(*) FROM records WHERE retracted_by = ?", revoke.id) == 1
    assert count(store, "SELECT COUNT(*) FROM summaries") == 1


async def test_a_revocation_drops_quarantined_records_created_since(
    store: Store, steward: Steward
) -> None:
    refused = at(CHAPTER, 2, T0 + 150)
    await ingest(store, at(CHAPTER, 1, T0 + 50), refused)
    await ingest(store, steward.decide(CHAPTER, "revoke", T0 + 300, compromised_since_ms=T0 + 100))
    assert (CHAPTER.public_key, "public", 2) in await store.records.feeds()
    tomb = await store.records.get(refused.id)
    assert tomb is not None
    assert tomb.erased
    assert tomb.body is None
    assert await store.records.quarantine_totals() == (0, 0)


async def test_a_steward_retracts_another_origins_record(store: Store, steward: Steward) -> None:
    await ingest(store, steward.decide(CHAPTER, "admit", T0))
    target = signed(CHAPTER, 1, body=incident_body())
    retraction = signed(
        STEWARD, 2, kind="retraction", body={"target": target.id.hex(), "reason": "safety"}
    )
    await ingest(store, target, retraction)
    stored = await store.records.get(target.id)
    assert stored is not None
    assert stored.erased


async def test_a_members_retraction_of_another_origin_does_nothing(
    store: Store, steward: Steward
) -> None:
    await ingest(store, steward.decide(CHAPTER, "admit", T0))
    other = seeded_key("members other chapter")
    await ingest(store, steward.decide(other, "admit", T0))
    target = signed(other, 1)
    retraction = signed(
        CHAPTER, 1, kind="retraction", body={"target": target.id.hex(), "reason": "error"}
    )
    await ingest(store, target, retraction)
    stored = await store.records.get(target.id)
    assert stored is not None
    assert not stored.erased


def test_member_is_a_frozen_value() -> None:
    member = Member(b"k", "admit", "chapter", "n", None, None, None, 1, b"r")
    with pytest.raises(AttributeError):
        member.action = "revoke"  # type: ignore[misc]
