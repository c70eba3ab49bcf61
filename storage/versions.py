"""Which records are current: later versions hide earlier ones, retractions withdraw records.

An ``incident`` or ``deployment`` whose ``supersedes`` names an earlier
record of the same origin hides that record from queries and exports. A
``retraction`` withdraws its target when it comes from the target's own
origin or from a steward: the target's body is deleted (the signed envelope
stays as a tombstone) and it leaves queries and exports for good; a body that
arrives for it later is never stored again. A steward's revocation of a key
withdraws that key's records the same way (``storage.members``).

Either record of a pair may arrive first (they can travel in different
feeds), so after each batch both directions are checked for the new rows.
"""

import sqlite3
from collections.abc import Sequence


def apply_versions(
    conn: sqlite3.Connection, first_rid: int, last_rid: int, stewards: frozenset[bytes], now: int
) -> None:
    """Apply supersedes and retractions between the rows ``first_rid..last_rid`` and the rest."""
    span = (first_rid, last_rid)
    # New versions hide the records they supersede ...
    conn.execute(
        "UPDATE records SET superseded_by = n.id FROM "
        "(SELECT id, origin, supersedes FROM records WHERE rid BETWEEN ? AND ? "
        " AND supersedes IS NOT NULL) AS n "
        "WHERE records.id = n.supersedes AND records.origin = n.origin "
        "AND records.superseded_by IS NULL",
        span,
    )
    # ... and new records are hidden by versions that arrived before them.
    conn.execute(
        "UPDATE records SET superseded_by = s.id FROM records AS s "
        "WHERE records.rid BETWEEN ? AND ? AND s.supersedes = records.id "
        "AND s.origin = records.origin AND records.superseded_by IS NULL",
        span,
    )
    rows = conn.execute(
        "SELECT t.rid, r.id, r.origin, t.origin FROM records AS r "
        "JOIN records AS t ON t.id = r.retracts "
        "WHERE r.kind = 'retraction' AND r.retracted_by IS NULL AND t.retracted_by IS NULL "
        "AND (r.rid BETWEEN ?1 AND ?2 OR t.rid BETWEEN ?1 AND ?2)",
        span,
    ).fetchall()
    withdrawn = [
        (retraction_id, target_rid)
        for target_rid, retraction_id, retraction_origin, target_origin in rows
        if retraction_origin == target_origin or retraction_origin in stewards
    ]
    withdraw(conn, withdrawn, now)


def withdraw(conn: sqlite3.Connection, withdrawn: Sequence[tuple[bytes, int]], now: int) -> None:
    """Withdraw records for good: each ``(withdrawing record id, rid)`` loses its body and
    full-text entry, and keeps its envelope as a tombstone that queries and exports skip.

    Retractions withdraw their targets; a steward's revocation withdraws what the
    revoked key signed since it was compromised."""
    if not withdrawn:
        return
    conn.executemany(
        "UPDATE records SET retracted_by = ?, erased_ms = ? WHERE rid = ?",
        [(withdrawing_id, now, rid) for withdrawing_id, rid in withdrawn],
    )
    conn.executemany("DELETE FROM bodies WHERE rid = ?", [(rid,) for _, rid in withdrawn])
    conn.executemany("DELETE FROM summaries WHERE rowid = ?", [(rid,) for _, rid in withdrawn])
