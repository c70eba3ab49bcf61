"""Membership state in the database: the ``members`` table, loaded, saved and rebuilt.

The table holds, for each subject key, the latest decision of a steward
(the rule is ``protocol.trust``'s); :class:`protocol.trust.Trust` is its
in-memory copy, kept in step with it:

- at open, the table is rebuilt from every stored membership record, so a
  change of the configured stewards takes effect;
- during an ingest transaction, new decisions are staged in a dict that
  :meth:`~protocol.trust.Trust.judge` consults; they reach the ``Trust`` only
  once the transaction has committed (:meth:`~protocol.trust.Trust.commit`),
  so a rollback leaves it unchanged.
"""

import sqlite3
from collections.abc import Iterable

from protocol.errors import ProtocolError
from protocol.kinds import Membership, decode_body
from protocol.trust import Member, member_of
from storage.sql import expand_in, statement
from storage.versions import withdraw

_COLUMNS = "subject, action, role, name, city, country, compromised_since_ms, decided_ms, record_id"


def load_members(conn: sqlite3.Connection) -> list[Member]:
    rows = conn.execute(statement("SELECT {columns} FROM members", columns=_COLUMNS)).fetchall()
    return [Member(*row) for row in rows]


def save_members(conn: sqlite3.Connection, members: Iterable[Member]) -> None:
    conn.executemany(
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


def rebuild_members(conn: sqlite3.Connection, stewards: frozenset[bytes]) -> list[Member]:
    """Derive the state from every stored membership record of a steward, and store it."""
    latest: dict[bytes, Member] = {}
    marks, params = expand_in(sorted(stewards))
    sql = statement(
        "SELECT r.id, r.created_ms, b.body FROM records r JOIN bodies b ON b.rid = r.rid "
        "WHERE r.kind = 'membership' AND r.origin IN {marks}",
        marks=marks,
    )
    rows = conn.execute(sql, params).fetchall()
    for record_id, created_ms, body in rows:
        try:
            content = decode_body("membership", body)
        except ProtocolError:  # a body this version cannot read decides nothing
            continue
        assert isinstance(content, Membership)
        decision = member_of(content, created_ms, record_id)
        current = latest.get(decision.subject)
        if current is None or decision.rank > current.rank:
            latest[decision.subject] = decision
    conn.execute("DELETE FROM members")
    save_members(conn, latest.values())
    return list(latest.values())


def withdraw_revoked(conn: sqlite3.Connection, member: Member, now: int) -> int:
    """Withdraw the records a revoked key created since it was compromised; how many."""
    assert member.compromised_since_ms is not None
    rows = conn.execute(
        "SELECT rid FROM records WHERE origin = ? AND created_ms >= ? AND retracted_by IS NULL",
        (member.subject, member.compromised_since_ms),
    ).fetchall()
    withdrawn = [(member.record_id, int(row[0])) for row in rows]
    withdraw(conn, withdrawn, now)
    return len(withdrawn)
