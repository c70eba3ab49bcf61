"""The SQL text helpers: IN lists and the statement splitter that migrations and the rollup use."""

import sqlite3

from hypothesis import given
from hypothesis import strategies as st

from storage.migrations import MIGRATIONS
from storage.sql import expand_in, split_statements, statement


def test_expand_in_has_one_placeholder_per_value() -> None:
    assert expand_in(["a", "b", "c"]) == ("(?, ?, ?)", ["a", "b", "c"])
    assert expand_in(iter([b"k"])) == ("(?)", [b"k"])


def test_an_empty_in_list_matches_nothing() -> None:
    marks, params = expand_in([])
    conn = sqlite3.connect(":memory:")
    rows = conn.execute(statement("SELECT 1 WHERE 1 IN {marks}", marks=marks), params).fetchall()
    assert rows == []


@given(st.lists(st.text(), max_size=50))
def test_in_lists_bind_every_value_unchanged(values: list[str]) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [(v,) for v in values])
    marks, params = expand_in(values)
    sql = statement("SELECT v FROM t WHERE v IN {marks} ORDER BY v", marks=marks)
    assert [row[0] for row in conn.execute(sql, params)] == sorted(values)


def test_split_keeps_semicolons_inside_strings_comments_and_triggers() -> None:
    script = """
        CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('a;b');
        -- a comment; with a semicolon
        CREATE TRIGGER t_no_delete BEFORE DELETE ON t
        BEGIN SELECT RAISE(ABORT, 'no; never'); END;
        SELECT v FROM t
    """
    assert split_statements(script) == [
        "CREATE TABLE t (v TEXT);",
        "INSERT INTO t VALUES ('a;b');",
        "-- a comment; with a semicolon\n        CREATE TRIGGER t_no_delete BEFORE DELETE ON t\n"
        "        BEGIN SELECT RAISE(ABORT, 'no; never'); END;",
        "SELECT v FROM t",
    ]


def test_split_drops_empty_statements_and_trailing_comments() -> None:
    assert split_statements("") == []
    assert split_statements(" ; ;\n-- done\n") == []
    assert split_statements("SELECT 1; -- done") == ["SELECT 1;"]


def test_every_migration_splits_into_statements_sqlite_runs_one_by_one() -> None:
    conn = sqlite3.connect(":memory:")
    for script in MIGRATIONS:
        for sql in split_statements(script):
            assert sqlite3.complete_statement(sql)
            conn.execute(sql)


@given(st.lists(st.sampled_from(["SELECT 1", "SELECT ';'", "SELECT 2 -- x;y\n"]), max_size=8))
def test_split_finds_each_statement_of_a_joined_script(parts: list[str]) -> None:
    script = "".join(part + ";\n" for part in parts)
    assert len(split_statements(script)) == len(parts)
