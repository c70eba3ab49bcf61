"""Building SQL text: ``IN`` lists, statements from fixed parts, scripts split into statements.

Every value a statement uses is a bound parameter. What these helpers put
into SQL text is only ever made inside ``storage``: placeholders from
:func:`expand_in`, constant column and table names, and conditions written
as literals over them. Nothing a peer or a client sent is formatted into SQL.
"""

import sqlite3
from collections.abc import Iterable
from typing import Any


def expand_in(values: Iterable[Any]) -> tuple[str, list[Any]]:
    """``("(?, ?, ?)", [values])``: an ``IN`` list with one placeholder per value.

    An empty list is ``(NULL)``, which matches nothing (``x IN ()`` is not SQL)."""
    params = list(values)
    marks = ", ".join("?" * len(params)) or "NULL"
    return f"({marks})", params


def current(row: str) -> str:
    """The condition that ``row`` (a table alias, or ``OLD``/``NEW`` in a trigger) is a
    current record: not superseded, retracted or erased (what every read and rollup
    counts)."""
    return f"{row}.superseded_by IS NULL AND {row}.retracted_by IS NULL AND {row}.erased_ms IS NULL"


def statement(template: str, **parts: str) -> str:
    """``template`` with its ``{name}`` slots filled by ``parts``.

    Each part is SQL made in ``storage`` (see the module docstring): a list from
    :func:`expand_in`, a constant column list, a condition of fixed text. Values
    never pass through here; they are bound."""
    return template.format(**parts)


def split_statements(script: str) -> list[str]:
    """The statements of ``script``, each with its ``;``, in order.

    ``executescript`` would commit on its own, so scripts that must run inside
    a transaction are executed a statement at a time. A statement ends where
    SQLite says it is complete, so a ``;`` inside a string, a comment or a
    trigger's body does not end it."""
    statements: list[str] = []
    pending = ""
    *pieces, tail = script.split(";")
    for piece in pieces:
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if _has_sql(pending.removesuffix(";")):
                statements.append(pending.strip())
            pending = ""
    # After the last ";": an unfinished statement, or only whitespace and comments.
    if _has_sql(pending + tail):
        statements.append((pending + tail).strip())
    return statements


def _has_sql(text: str) -> bool:
    """Whether ``text`` holds more than whitespace and ``--`` comments."""
    return any(line.strip() and not line.strip().startswith("--") for line in text.splitlines())
