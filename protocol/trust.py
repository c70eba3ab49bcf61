"""The trust rule (docs/protocol.md section 7.1): who the network trusts, and what that
means for a record.

Stewards (from the node's config) are the roots of trust. For each subject
key, the latest ``membership`` record signed by a steward decides its state
(latest by ``created_ms``, ties broken by the larger record id); records of
any other origin have no effect. :class:`Trust` holds that state in memory:

- :meth:`Trust.judge` is the acceptance rule for a verified record, with the
  decisions a batch is staging taking precedence over the committed ones;
- :meth:`Trust.commit` takes staged decisions once their transaction has
  committed, so a rollback leaves the state unchanged;
- :meth:`Trust.audiences_for` says which audiences a key may receive
  (docs/protocol.md section 19).

Everything here is pure and synchronous (the HTTP signature check calls it);
loading and saving the state is ``storage.members``'s business.
"""

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from protocol.errors import OriginRevokedError, OriginSuspendedError, ProtocolError
from protocol.keys import key_text, parse_key_text
from protocol.kinds import Membership
from protocol.records import VerifiedRecord

PUBLIC_ONLY = frozenset({"public"})
MEMBER_AUDIENCES = frozenset({"public", "network"})
ALL_AUDIENCES = frozenset({"public", "network", "coordinators"})


@dataclass(frozen=True)
class Member:
    """The latest steward decision about one key."""

    subject: bytes
    action: str  # admit, suspend or revoke
    role: str  # chapter or coordinator
    name: str
    city: str | None
    country: str | None
    compromised_since_ms: int | None  # revoke only
    decided_ms: int  # created_ms of the deciding record
    record_id: bytes  # the deciding membership record

    @property
    def rank(self) -> tuple[int, bytes]:
        """Later decisions rank higher; ties go to the larger record id."""
        return (self.decided_ms, self.record_id)


class Standing(enum.Enum):
    """What the acceptance rule says of a record that is not refused."""

    ACCEPT = "accept"
    QUARANTINE = "quarantine"


class Trust:
    """The in-memory membership state; see the module docstring."""

    def __init__(self, stewards: frozenset[bytes], members: Iterable[Member] = ()) -> None:
        self.stewards = stewards
        self._members = {member.subject: member for member in members}
        self.version = 0

    def member(self, key: bytes) -> Member | None:
        return self._members.get(key)

    def members(self) -> list[Member]:
        return sorted(self._members.values(), key=lambda m: m.subject)

    def is_member(self, key: bytes) -> bool:
        """A steward, or a key whose latest decision admits it."""
        if key in self.stewards:
            return True
        member = self._members.get(key)
        return member is not None and member.action == "admit"

    def role(self, key: bytes) -> str | None:
        """steward, coordinator or chapter for a member; None for anyone else."""
        if key in self.stewards:
            return "steward"
        member = self._members.get(key)
        return member.role if member is not None and member.action == "admit" else None

    def audiences_for(self, key: bytes | None) -> frozenset[str]:
        """The audiences a key may receive (docs/protocol.md section 19)."""
        role = None if key is None else self.role(key)
        if role in ("steward", "coordinator"):
            return ALL_AUDIENCES
        return MEMBER_AUDIENCES if role == "chapter" else PUBLIC_ONLY

    def judge(
        self, origin: bytes, created_ms: int, staged: Mapping[bytes, Member]
    ) -> Standing | ProtocolError:
        """The acceptance rule for a verified record, with ``staged`` decisions taking
        precedence over the committed ones."""
        if origin in self.stewards:
            return Standing.ACCEPT
        member = staged.get(origin) or self._members.get(origin)
        if member is None:
            return Standing.QUARANTINE
        if member.action == "suspend" and created_ms >= member.decided_ms:
            return OriginSuspendedError(
                f"{key_text(origin)} was suspended by a steward at {member.decided_ms} ms; "
                f"this record was created at {created_ms} ms"
            )
        if member.action == "revoke":
            assert member.compromised_since_ms is not None
            if created_ms >= member.compromised_since_ms:
                return OriginRevokedError(
                    f"{key_text(origin)} was revoked by a steward as compromised since "
                    f"{member.compromised_since_ms} ms; this record was created at "
                    f"{created_ms} ms"
                )
        return Standing.ACCEPT

    def supersedes(self, decision: Member, staged: Mapping[bytes, Member]) -> bool:
        """Whether ``decision`` is later than what is known of its subject."""
        current = staged.get(decision.subject) or self._members.get(decision.subject)
        return current is None or decision.rank > current.rank

    def commit(self, staged: Mapping[bytes, Member]) -> None:
        """Take decisions staged by a transaction that has committed.

        The members are replaced, never changed in place: the store commits from its
        writer thread while the event loop may be iterating :meth:`members`."""
        if staged:
            self._members = {**self._members, **staged}
            self.version += 1

    def reset(self, members: Iterable[Member]) -> None:
        """Replace the whole state (at open, after rebuilding the table, or when another
        process has decided); replaced whole, as in :meth:`commit`."""
        self._members = {member.subject: member for member in members}
        self.version += 1


def decision_of(record: VerifiedRecord) -> Member | None:
    """The decision a membership record states (whoever signed it), or None."""
    content = record.content
    if not isinstance(content, Membership):
        return None
    return member_of(content, record.envelope.created_ms, record.id)


def member_of(content: Membership, decided_ms: int, record_id: bytes) -> Member:
    """The decision ``content`` states, made at ``decided_ms`` by the record ``record_id``."""
    return Member(
        subject=parse_key_text(content.subject),
        action=content.action,
        role=content.role,
        name=content.name,
        city=content.city,
        country=content.country,
        compromised_since_ms=content.compromised_since_ms,
        decided_ms=decided_ms,
        record_id=record_id,
    )
