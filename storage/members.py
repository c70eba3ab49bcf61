"""Membership state: who the network trusts, derived from stewards' ``membership`` records.

Stewards (from the node's config) are the roots of trust. For each subject
key, the latest ``membership`` record signed by a steward decides its state
(latest by ``created_ms``, ties broken by the larger record id); records of
any other origin have no effect. The ``members`` table holds that state and
:class:`Trust` is its in-memory copy, kept in step with it:

- at open, the table is rebuilt from every stored membership record, so a
  change of the configured stewards takes effect;
- during an ingest transaction, new decisions are staged in a dict that
  :meth:`Trust.judge` consults; they reach :class:`Trust` only once the
  transaction has committed (:meth:`Trust.commit`), so a rollback leaves it
  unchanged.

Trust's methods are synchronous: the HTTP signature check calls them.
The acceptance rule itself (docs/protocol.md section 7.1) is :meth:`Trust.judge`.
"""

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import aiosqlite

from protocol.errors import OriginRevokedError, OriginSuspendedError, ProtocolError
from protocol.keys import key_text, parse_key_text
from protocol.kinds import Membership, decode_body
from protocol.records import VerifiedRecord
from storage.sql import expand_in, statement
from storage.versions import withdraw

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
        """Take decisions staged by a transaction that has committed."""
        if staged:
            self._members.update(staged)
            self.version += 1

    def reset(self, members: Iterable[Member]) -> None:
        """Replace the whole state (at open, after rebuilding the table)."""
        self._members = {member.subject: member for member in members}
        self.version += 1


def decision_of(record: VerifiedRecord) -> Member | None:
    """The decision a membership record states (whoever signed it), or None."""
    content = record.content
    if not isinstance(content, Membership):
        return None
    return _member(content, record.envelope.created_ms, record.id)


def _member(content: Membership, decided_ms: int, record_id: bytes) -> Member:
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


_COLUMNS = "subject, action, role, name, city, country, compromised_since_ms, decided_ms, record_id"


async def load_members(conn: aiosqlite.Connection) -> list[Member]:
    rows = await conn.execute_fetchall(statement("SELECT {columns} FROM members", columns=_COLUMNS))
    return [Member(*row) for row in rows]


async def save_members(conn: aiosqlite.Connection, members: Iterable[Member]) -> None:
    await conn.executemany(
        statement(
            "INSERT OR REPLACE INTO members ({columns}) VALUES (?,?,?,?,?,?,?,?,?)",
            columns=_COLUMNS,
        ),
        [
            (
                m.subject,
                m.action,
                m.role,
                m.name,
                m.city,
                m.country,
                m.compromised_since_ms,
                m.decided_ms,
                m.record_id,
            )
            for m in members
        ],
    )


async def rebuild_members(conn: aiosqlite.Connection, stewards: frozenset[bytes]) -> list[Member]:
    """Derive the state from every stored membership record of a steward, and store it."""
    latest: dict[bytes, Member] = {}
    marks, params = expand_in(sorted(stewards))
    sql = statement(
        "SELECT r.id, r.created_ms, b.body FROM records r JOIN bodies b ON b.rid = r.rid "
        "WHERE r.kind = 'membership' AND r.origin IN {marks}",
        marks=marks,
    )
    rows = await conn.execute_fetchall(sql, params)
    for record_id, created_ms, body in rows:
        try:
            content = decode_body("membership", body)
        except ProtocolError:  # a body this version cannot read decides nothing
            continue
        assert isinstance(content, Membership)
        decision = _member(content, created_ms, record_id)
        current = latest.get(decision.subject)
        if current is None or decision.rank > current.rank:
            latest[decision.subject] = decision
    await conn.execute("DELETE FROM members")
    await save_members(conn, latest.values())
    return list(latest.values())


async def withdraw_revoked(conn: aiosqlite.Connection, member: Member, now: int) -> int:
    """Withdraw the records a revoked key created since it was compromised; how many."""
    assert member.compromised_since_ms is not None
    rows = await conn.execute_fetchall(
        "SELECT rid FROM records WHERE origin = ? AND created_ms >= ? AND retracted_by IS NULL",
        (member.subject, member.compromised_since_ms),
    )
    withdrawn = [(member.record_id, int(row[0])) for row in rows]
    await withdraw(conn, withdrawn, now)
    return len(withdrawn)
