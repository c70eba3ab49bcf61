"""The batch classifier (storage.classify) on its own: no SQLite, only records, heads and trust."""

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import OriginSuspendedError, SeqGapError
from protocol.limits import DEFAULT_LIMITS
from protocol.records import VerifiedRecord, verify_record
from protocol.trust import Member, Trust, decision_of
from storage.classify import (
    Feed,
    Outcome,
    Plan,
    Slot,
    Verdict,
    classify,
    decided_subjects,
    quarantine_candidates,
)
from tests.factories import NETWORK, STEWARD, incident_body, membership, seeded_key, signed

CHAPTER = seeded_key("classify chapter")
OTHER = seeded_key("classify other chapter")
STRANGER = seeded_key("classify stranger")


KEYS = {"chapter": CHAPTER, "other": OTHER, "stranger": STRANGER, "steward": STEWARD}


def record(key_label: str, seq: int, *, audience: str = "public", **kwargs: Any) -> VerifiedRecord:
    return verify_record(
        signed(KEYS[key_label], seq, audience=audience, **kwargs),
        network_id=NETWORK,
        limits=DEFAULT_LIMITS,
    )


@cache
def incident(key_label: str, seq: int, audience: str, forked: bool = False) -> VerifiedRecord:
    """The usual incident of a feed's slot, or (``forked``) another one for the same slot."""
    body = incident_body(summary="A fork.") if forked else None
    return record(key_label, seq, audience=audience, body=body)


def admitted(*keys: bytes, at: int = 1) -> list[Member]:
    return [
        Member(k, "admit", "chapter", "a chapter", None, None, None, at, bytes([n]) * 32)
        for n, k in enumerate(keys)
    ]


def trust_with(*members: Member) -> Trust:
    return Trust(frozenset({STEWARD.public_key}), members)


MEMBERS = trust_with(*admitted(CHAPTER.public_key, OTHER.public_key))


def run(
    records: Sequence[VerifiedRecord],
    *,
    trust: Trust = MEMBERS,
    heads: Mapping[Feed, int] | None = None,
    slots: Mapping[Slot, bytes] | None = None,
    held: frozenset[bytes] = frozenset(),
    own: bool = False,
) -> Plan:
    return classify(
        records,
        heads=heads or {},
        slots=slots or {},
        held=held,
        trust=trust,
        staged={},
        own=own,
    )


def slot_of(r: VerifiedRecord) -> Slot:
    return (r.envelope.origin, r.envelope.audience, r.envelope.seq)


def test_a_feed_from_its_first_seq_is_accepted_in_any_order() -> None:
    batch = [record("chapter", 3), record("chapter", 1), record("chapter", 2)]
    plan = run(batch)
    assert plan.verdicts == [Verdict.ACCEPT] * 3
    assert [s.record.envelope.seq for s in plan.stored] == [1, 2, 3]
    assert plan.heads == {(CHAPTER.public_key, "public"): 3}
    assert [r.outcome for r in plan.results(batch)] == [Outcome.ACCEPTED] * 3


def test_a_seq_beyond_the_next_one_is_a_gap() -> None:
    plan = run([record("chapter", 2)], heads={(CHAPTER.public_key, "public"): 0})
    assert plan.verdicts == [Verdict.GAP]
    assert isinstance(plan.errors[0], SeqGapError)
    assert plan.stored == []
    assert plan.heads == {}


def test_the_same_envelope_in_a_taken_slot_is_a_duplicate_another_is_a_fork() -> None:
    first = record("chapter", 1)
    other = record("chapter", 1, body=incident_body(summary="Another story."))
    plan = run(
        [first, other],
        heads={(CHAPTER.public_key, "public"): 1},
        slots={slot_of(first): first.id},
    )
    assert plan.verdicts == [Verdict.DUPLICATE, Verdict.FORK]
    assert plan.forks == [(other, first.id)]
    assert plan.stored == []


def test_a_fork_within_one_batch_keeps_the_first_envelope() -> None:
    first = record("chapter", 1)
    other = record("chapter", 1, body=incident_body(summary="Another story."))
    plan = run([first, other, first])
    assert plan.verdicts == [Verdict.ACCEPT, Verdict.FORK, Verdict.DUPLICATE]
    assert plan.forks == [(other, first.id)]


def test_records_of_undecided_origins_are_quarantined_unless_held_already() -> None:
    one, two = record("stranger", 1), record("stranger", 2)
    assert quarantine_candidates([one, two], {}, MEMBERS, {}) == [one.id, two.id]
    assert quarantine_candidates([one, two], {}, MEMBERS, {}, own=True) == []
    plan = run([one, two], held=frozenset({one.id}))
    assert plan.verdicts == [Verdict.DUPLICATE, Verdict.QUARANTINE]
    assert plan.held == [two]
    assert plan.stored == []
    assert plan.heads == {}


def test_own_records_skip_the_trust_rule() -> None:
    plan = run([record("stranger", 1)], own=True)
    assert plan.verdicts == [Verdict.ACCEPT]


def test_a_stewards_admission_in_the_batch_applies_to_the_rest_of_it() -> None:
    admit = record("steward", 1, kind="membership", body=membership(STRANGER.public_key))
    batch = [record("stranger", 1), admit]
    assert decided_subjects(batch, MEMBERS.stewards) == {STRANGER.public_key}
    plan = run(batch)
    assert plan.verdicts == [Verdict.ACCEPT, Verdict.ACCEPT]
    assert [s.record for s in plan.stored] == [admit, batch[0]]  # the steward's feed first
    assert plan.decided == [decision_of(admit)]


def test_a_suspended_origins_next_record_becomes_a_tombstone_later_ones_are_refused() -> None:
    suspend = record(
        "steward", 1, kind="membership", body=membership(CHAPTER.public_key, "suspend")
    )
    batch = [suspend, record("chapter", 1), record("chapter", 2)]
    plan = run(batch)
    assert plan.verdicts == [Verdict.ACCEPT, Verdict.TOMBSTONE, Verdict.TOMBSTONE]
    assert all(isinstance(e, OriginSuspendedError) for e in plan.errors[1:])
    assert [s.withdrawn_by for s in plan.stored] == [None, suspend.id, suspend.id]
    assert [r.outcome for r in plan.results(batch)][1:] == [Outcome.REJECTED] * 2
    refused = run([record("chapter", 3)], trust=trust_with(*plan.decided))
    assert refused.verdicts == [Verdict.REFUSE]
    assert refused.stored == []


def test_staged_decisions_are_not_changed() -> None:
    staged: dict[bytes, Member] = {}
    admit = record("steward", 1, kind="membership", body=membership(STRANGER.public_key))
    plan = classify([admit], heads={}, slots={}, held=(), trust=MEMBERS, staged=staged)
    assert plan.decided
    assert staged == {}


# -- properties -----------------------------------------------------------------------------

FEEDS = [("chapter", "public"), ("chapter", "network"), ("other", "public")]
entries = st.lists(
    st.tuples(st.sampled_from(range(len(FEEDS))), st.integers(1, 6), st.booleans()), max_size=16
)
stored_heads = st.lists(st.integers(0, 3), min_size=len(FEEDS), max_size=len(FEEDS))


def batch_of(drawn: list[tuple[int, int, bool]]) -> list[VerifiedRecord]:
    """A batch over three member feeds; ``True`` makes a record that forks the usual one."""
    return [incident(FEEDS[feed][0], seq, FEEDS[feed][1], forked) for feed, seq, forked in drawn]


def state_of(heads: list[int]) -> tuple[dict[Feed, int], dict[Slot, bytes]]:
    """Stored feeds holding their usual records up to ``heads``."""
    stored_heads: dict[Feed, int] = {}
    slots: dict[Slot, bytes] = {}
    for (label, audience), head in zip(FEEDS, heads, strict=True):
        for seq in range(1, head + 1):
            r = incident(label, seq, audience)
            slots[slot_of(r)] = r.id
            stored_heads[(r.envelope.origin, audience)] = head
    return stored_heads, slots


@settings(max_examples=150, deadline=None)
@given(entries, stored_heads)
def test_every_feed_stays_contiguous(drawn: list[tuple[int, int, bool]], heads: list[int]) -> None:
    batch = batch_of(drawn)
    start, slots = state_of(heads)
    plan = run(batch, heads=start, slots=slots)
    assert len(plan.verdicts) == len(batch)
    for feed, head in plan.heads.items():
        seqs = [
            s.record.envelope.seq
            for s in plan.stored
            if (s.record.envelope.origin, s.record.envelope.audience) == feed
        ]
        assert seqs == list(range(start.get(feed, 0) + 1, head + 1))
    for r, verdict in zip(batch, plan.verdicts, strict=True):
        head = start.get((r.envelope.origin, r.envelope.audience), 0)
        if r.envelope.seq <= head:
            assert verdict in (Verdict.DUPLICATE, Verdict.FORK)


@settings(max_examples=150, deadline=None)
@given(entries, stored_heads)
def test_a_batch_applied_twice_changes_nothing_the_second_time(
    drawn: list[tuple[int, int, bool]], heads: list[int]
) -> None:
    batch = batch_of(drawn)
    start, slots = state_of(heads)
    first = run(batch, heads=start, slots=slots)
    after = {**start, **first.heads}
    slots.update((slot_of(s.record), s.record.id) for s in first.stored)
    again = run(batch, heads=after, slots=slots)
    assert again.stored == []
    assert again.heads == {
        f: h
        for f, h in after.items()
        if any((r.envelope.origin, r.envelope.audience) == f for r in batch)
    }
    for before, now in zip(first.verdicts, again.verdicts, strict=True):
        if before in (Verdict.ACCEPT, Verdict.DUPLICATE):
            assert now is Verdict.DUPLICATE
        if before is Verdict.FORK:
            assert now is Verdict.FORK
