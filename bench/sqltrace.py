"""Which plans change without an index: every statement the node runs, planned both ways.

Two steps, from the repository root. First record the statements (SQL and bound
parameters) that tests run, with this module as a pytest plugin::

    SQLTRACE_DIR=/tmp/trace python -m pytest -p bench.sqltrace -n 0 tests/test_site_stats.py

Every ``sqlite3`` connection the test process opens (aiosqlite's too) records each
distinct statement that names ``records``, with up to three parameter sets, into a file
of that directory when the process ends. Then plan them::

    python -m bench.sqltrace /tmp/trace DB --drop records_kind --drop records_city

``DB`` is best a schema-only copy of a large node (``sqlite3 big.db .schema``): without
``sqlite_stat1`` SQLite's plans do not depend on the data. Each statement is
``EXPLAIN QUERY PLAN``ned with its parameters bound (SQLite decides on a partial index
by a bound value), then again with each ``--drop`` index dropped (in a transaction
rolled back), and the statements whose plan changes are printed with both plans.
"""

import argparse
import atexit
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

_RECORDS = re.compile(r"\brecords\b(?!_)")
_READS = re.compile(
    r"(?is)^\s*(select|with|update|delete|insert\s+into\s+(?!records\b)\w+.*select)"
)
_seen: dict[str, list[list[Any]]] = {}
_lock = threading.Lock()


def _note(sql: object, params: object) -> None:
    if not isinstance(sql, str) or not _RECORDS.search(sql) or not _READS.match(sql):
        return
    if isinstance(params, dict) or not isinstance(params, Sequence):
        return
    row = [p.hex() if isinstance(p, bytes) else p for p in params]
    with _lock:
        known = _seen.setdefault(sql, [])
        if len(known) < 3 and row not in known:
            known.append(row)


class _Cursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> "_Cursor":
        _note(sql, parameters)
        super().execute(sql, parameters)
        return self


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        cursor: sqlite3.Cursor = self.cursor()
        return cursor.execute(sql, parameters)


def _dump(directory: str) -> None:
    with _lock:
        if _seen:
            path = Path(directory) / f"statements-{os.getpid()}.json"
            path.write_text(json.dumps(_seen), encoding="utf-8")


if (_directory := os.environ.get("SQLTRACE_DIR")) is not None:
    _connect = sqlite3.connect

    def _traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        kwargs.setdefault("factory", _Connection)
        connection: sqlite3.Connection = _connect(*args, **kwargs)
        return connection

    sqlite3.connect = _traced  # type: ignore[assignment]
    atexit.register(_dump, _directory)


def statements(directory: Path) -> dict[str, list[list[Any]]]:
    """The recorded statements of every process, with their parameter sets."""
    merged: dict[str, list[list[Any]]] = {}
    for path in sorted(directory.glob("statements-*.json")):
        for sql, rows in json.loads(path.read_text(encoding="utf-8")).items():
            known = merged.setdefault(sql, [])
            known.extend(r for r in rows if r not in known and len(known) < 3)
    return merged


def plans(conn: sqlite3.Connection, sql: str, rows: Iterable[list[Any]]) -> list[str]:
    """The distinct plans of ``sql`` over its parameter sets (hex strings stay text:
    the plan does not depend on a blob's value)."""
    found = set()
    for row in rows:
        try:
            steps = conn.execute(f"EXPLAIN QUERY PLAN {sql}", row).fetchall()
            found.add(" | ".join(step[3] for step in steps))
        except sqlite3.Error as exc:
            found.add(f"error: {exc}")
    return sorted(found)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sqltrace", description=__doc__)
    parser.add_argument("trace", type=Path, help="the SQLTRACE_DIR directory")
    parser.add_argument("db", type=Path, help="the database to plan on")
    parser.add_argument("--drop", action="append", default=[], help="an index to drop")
    args = parser.parse_args(argv)
    recorded = statements(args.trace)
    conn = sqlite3.connect(args.db, isolation_level=None)
    before = {sql: plans(conn, sql, rows or [[]]) for sql, rows in recorded.items()}
    conn.execute("BEGIN")
    for index in args.drop:
        conn.execute(f'DROP INDEX "{index}"')
    changed = 0
    for sql, rows in recorded.items():
        if (after := plans(conn, sql, rows or [[]])) != before[sql]:
            changed += 1
            print(f"{' '.join(sql.split())}\n  before: {before[sql]}\n  after:  {after}\n")
    conn.execute("ROLLBACK")
    print(f"{len(recorded)} statements, {changed} plans changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
