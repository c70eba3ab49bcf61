"""What becomes of each record of a batch: a pure decision, made before anything is written.

Each feed ``(origin, audience)`` holds a contiguous run of seqs from 1. Given
a batch of verified records, the feeds' stored heads (their max seqs), and
the trust state, :func:`classify` gives every record one :class:`Verdict`:

- **accept**: its seq is the feed's next one and the trust rule accepts it;
- **duplicate**: the slot already holds the same envelope (stored, earlier
  in the batch, or waiting in the quarantine): a no-op;
- **fork**: the slot holds another envelope; both are kept as evidence, the
  first goes on being served, and the origin is flagged;
- **gap**: its seq is beyond the feed's next one: rejected;
- **quarantine**: no steward has decided on its origin yet: it waits
  (``storage.quarantine``) until one does;
- **tombstone**: its origin's suspension or revocation refuses it, but it is
  the feed's next record: its envelope is kept, withdrawn and with no body, so
  the feed stays contiguous and nodes that took it earlier still agree;
- **refuse**: refused by the trust rule, and not the feed's next record.

Records are taken in feed order, so a batch may list a feed's records in any
order, and stewards' feeds first, so their membership decisions in the batch
apply to the rest of it. The node's own records skip the trust rule: a new
chapter publishes before it is admitted.

The writer (``storage.records``) reads what this needs from the database,
applies the :class:`Plan` in one transaction, and judges released quarantined
records again the same way.
"""

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from protocol.errors import ProtocolError, SeqGapError
from protocol.records import VerifiedRecord
from protocol.trust import Member, Standing, Trust, decision_of

Feed = tuple[bytes, str]  # (origin, audience)
Slot = tuple[bytes, str, int]  # (origin, audience, seq)


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    FORK = "fork"
    QUARANTINED = "quarantined"
    REJECTED = "rejected"


class Verdict(enum.Enum):
    ACCEPT = "accept"
    DUPLICATE = "duplicate"
    FORK = "fork"
    GAP = "gap"
    QUARANTINE = "quarantine"
    TOMBSTONE = "tombstone"
    REFUSE = "refuse"


_OUTCOMES = {
    Verdict.ACCEPT: Outcome.ACCEPTED,
    Verdict.DUPLICATE: Outcome.DUPLICATE,
    Verdict.FORK: Outcome.FORK,
    Verdict.GAP: Outcome.REJECTED,
    Verdict.QUARANTINE: Outcome.QUARANTINED,
    Verdict.TOMBSTONE: Outcome.REJECTED,
    Verdict.REFUSE: Outcome.REJECTED,
}

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
class Stored:
    """A record that takes its feed's next slot; ``withdrawn_by`` is the id of the
    membership record that refused it, for a tombstone."""

    record: VerifiedRecord
    withdrawn_by: bytes | None = None


@dataclass(slots=True)
class Plan:
    """What :func:`classify` decided; lists are in the order the writer applies them."""

    verdicts: list[Verdict] = field(default_factory=list)  # one per record, as given
    errors: list[ProtocolError | None] = field(default_factory=list)  # the same
    stored: list[Stored] = field(default_factory=list)  # in slot order
    forks: list[tuple[VerifiedRecord, bytes]] = field(default_factory=list)  # (evidence, first)
    held: list[VerifiedRecord] = field(default_factory=list)  # for the quarantine
    decided: list[Member] = field(default_factory=list)  # stewards' new decisions
    heads: dict[Feed, int] = field(default_factory=dict)  # each feed's max seq after

    def results(self, records: Sequence[VerifiedRecord]) -> list[IngestResult]:
        return [
            IngestResult(record.id, _OUTCOMES[verdict], error)
            for record, verdict, error in zip(records, self.verdicts, self.errors, strict=True)
        ]


def feed_of(record: VerifiedRecord) -> Feed:
    return (record.envelope.origin, record.envelope.audience)


def decided_subjects(records: Iterable[VerifiedRecord], stewards: Collection[bytes]) -> set[bytes]:
    """The keys a steward's membership record in ``records`` decides on."""
    return {
        decision.subject
        for record in records
        if record.envelope.origin in stewards and (decision := decision_of(record)) is not None
    }


def quarantine_candidates(
    records: Iterable[VerifiedRecord],
    heads: Mapping[Feed, int],
    trust: Trust,
    staged: Mapping[bytes, Member],
    *,
    own: bool = False,
) -> list[bytes]:
    """Ids of ``records`` that may already wait in the quarantine: only records of keys
    no steward has decided on, beyond their feed's stored head, can."""
    if own:
        return []
    return [
        r.id
        for r in records
        if trust.judge(r.envelope.origin, r.envelope.created_ms, staged) is Standing.QUARANTINE
        and r.envelope.seq > heads.get(feed_of(r), 0)
    ]


def classify(
    records: Sequence[VerifiedRecord],
    *,
    heads: Mapping[Feed, int],
    slots: Mapping[Slot, bytes],
    held: Collection[bytes],
    trust: Trust,
    staged: Mapping[bytes, Member],
    own: bool = False,
) -> Plan:
    """Decide every record of ``records`` (see the module docstring).

    ``heads`` are the stored feeds' max seqs, ``slots`` the ids stored at the
    slots of ``records`` at or below their feed's head, ``held`` the ids of
    ``records`` the quarantine holds, and ``staged`` the decisions of the
    transaction so far. ``own`` marks the node's own records."""
    batch = _Batch(heads, slots, held, trust, dict(staged), own)
    verdicts: dict[int, tuple[Verdict, ProtocolError | None]] = {}
    for index in sorted(range(len(records)), key=lambda i: _feed_order(records[i], trust)):
        verdicts[index] = batch.decide(records[index])
    plan = batch.plan
    plan.verdicts = [verdicts[i][0] for i in range(len(records))]
    plan.errors = [verdicts[i][1] for i in range(len(records))]
    plan.heads = {feed: after - 1 for feed, after in batch.next_seq.items() if after > 1}
    return plan


def _feed_order(record: VerifiedRecord, trust: Trust) -> tuple[bool, bytes, str, int]:
    env = record.envelope
    return (env.origin not in trust.stewards, env.origin, env.audience, env.seq)


class _Batch:
    """The state of :func:`classify` as it walks a batch in feed order."""

    def __init__(
        self,
        heads: Mapping[Feed, int],
        slots: Mapping[Slot, bytes],
        held: Collection[bytes],
        trust: Trust,
        staged: dict[bytes, Member],
        own: bool,
    ) -> None:
        self.heads = heads
        self.slots = dict(slots)  # and those this batch fills
        self.held = held
        self.trust = trust
        self.staged = staged
        self.own = own
        self.next_seq: dict[Feed, int] = {}
        self.taken: set[bytes] = set()  # ids stored, tombstoned or held by this batch
        self.plan = Plan()

    def decide(self, record: VerifiedRecord) -> tuple[Verdict, ProtocolError | None]:
        env = record.envelope
        feed = feed_of(record)
        next_seq = self.next_seq.setdefault(feed, self.heads.get(feed, 0) + 1)
        standing = (
            Standing.ACCEPT
            if self.own or env.seq < next_seq
            else self.trust.judge(env.origin, env.created_ms, self.staged)
        )
        if record.id in self.taken or record.id in self.held:
            return Verdict.DUPLICATE, None
        if isinstance(standing, ProtocolError):
            decider = self.staged.get(env.origin) or self.trust.member(env.origin)
            if env.seq != next_seq or decider is None:
                return Verdict.REFUSE, standing
            self._store(record, decider.record_id)
            return Verdict.TOMBSTONE, standing
        if standing is Standing.QUARANTINE:
            self.plan.held.append(record)
            self.taken.add(record.id)
            return Verdict.QUARANTINE, None
        if env.seq == next_seq:
            self._store(record, None)
            decision = decision_of(record) if env.origin in self.trust.stewards else None
            if decision is not None and self.trust.supersedes(decision, self.staged):
                self.staged[decision.subject] = decision
                self.plan.decided.append(decision)
            return Verdict.ACCEPT, None
        if env.seq < next_seq:
            first = self.slots.get((env.origin, env.audience, env.seq))
            assert first is not None, "feed max_seq covers a slot with no record"
            if first == record.id:
                return Verdict.DUPLICATE, None
            self.plan.forks.append((record, first))
            return Verdict.FORK, None
        gap = SeqGapError(f"seq {env.seq} leaves a gap: the feed's next seq is {next_seq}")
        return Verdict.GAP, gap

    def _store(self, record: VerifiedRecord, withdrawn_by: bytes | None) -> None:
        env = record.envelope
        self.plan.stored.append(Stored(record, withdrawn_by))
        self.slots[(env.origin, env.audience, env.seq)] = record.id
        self.next_seq[feed_of(record)] += 1
        self.taken.add(record.id)
