"""Backing up and restoring a banscan database file: SQLite's backup API, checks, and install.

A backup is one self-contained SQLite file (rollback-journal mode, no
``-wal``), mode 0600, made with SQLite's online backup API while the node runs.
The copy is the snapshot the database held when the backup began: it holds a
read transaction on its own connection for the whole copy, so in WAL mode
the node's writer is never blocked, and no write made meanwhile can make the
backup restart. Pages are copied in steps so progress can be shown.

Restore installs such a file as a database: it checks the file (SQLite,
``integrity_check`` ok, a schema version this banscan knows, that version's
tables), takes an exclusive lock on the current database (so it refuses while
a node, or any other banscan command, has it open), folds its WAL into it and
keeps it as ``banscan.db.before-restore-<UTC timestamp>``, then renames the
checked copy into place and removes stale ``-wal``, ``-shm`` and ``-journal``
files.

This works on files with the standard library's ``sqlite3``, not through
:class:`storage.database.Database`: neither needs the node's store open, and
restore requires that it is not. ``banscan backup`` and ``banscan restore``
(``node.cli.backup``) are the commands over it.

Errors::

    BackupError                     a backup or restore cannot be made
    └── DatabaseInUseError          the database to replace is open elsewhere
"""

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from protocol.utc import utc_text
from storage.migrations import MIGRATIONS

PAGES_PER_STEP = 256
SQLITE_MAGIC = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-shm", "-journal")


class BackupError(Exception):
    """A backup or restore cannot be made; the message says why and what to do."""


class DatabaseInUseError(BackupError):
    """The database a restore would replace is open: a node, or another command, holds it."""

    def __init__(self, path: Path, serving: str | None = None) -> None:
        where = f" (it serves {serving})" if serving else ""
        super().__init__(
            f"{path} is in use by a running node or another banscan command{where}; stop it first"
        )
        self.path = path


@dataclass(frozen=True)
class DatabaseFacts:
    """What a checked banscan database holds."""

    schema_version: int
    records: int
    size_bytes: int
    origins: frozenset[bytes]


def backup_database(
    source: Path,
    out: Path,
    *,
    pages_per_step: int = PAGES_PER_STEP,
    progress: Callable[[int, int], None] | None = None,
) -> DatabaseFacts:
    """Copy ``source`` to the new file ``out`` (mode 0600) and check the copy.

    The copy is written aside, checked, synced, then linked into place, so
    ``out`` either does not exist or is a complete, checked backup."""
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    os.close(fd)
    partial = Path(name)
    try:
        _copy(source, partial, pages_per_step, progress)
        facts = check_database(partial, source)
        _fsync(partial)
        _link_new(partial, out)
        _fsync_dir(out.parent)
        return facts
    finally:
        for suffix in ("", *SIDE_FILES):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)


def _copy(
    source: Path,
    target: Path,
    pages_per_step: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    # mode=rw: never create a database where there was none.
    src = sqlite3.connect(f"{source.absolute().as_uri()}?mode=rw", uri=True, timeout=10)
    src.isolation_level = None
    try:
        # One read transaction for the whole copy: its snapshot is the backup, and the
        # node's commits meanwhile go to the WAL without restarting the copy.
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()
        dst = sqlite3.connect(target, isolation_level=None)
        try:

            def step(_status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            src.backup(dst, pages=pages_per_step, progress=step)
            src.execute("COMMIT")
            # A single self-contained file: no WAL beside it.
            dst.execute("PRAGMA journal_mode = DELETE").fetchone()
        finally:
            dst.close()
    finally:
        src.close()


def _link_new(partial: Path, out: Path) -> None:
    """Put ``partial`` at ``out`` unless something appeared there meanwhile."""
    try:
        os.link(partial, out)
    except FileExistsError as exc:
        raise BackupError(f"{out} already exists; refusing to overwrite it") from exc


# -- checking a database ------------------------------------------------------------------


def check_database(path: Path, label: Path | None = None) -> DatabaseFacts:
    """Raise :class:`BackupError` unless ``path`` is a sound banscan database; messages
    name it ``label`` (the file the user gave) when ``path`` is a copy of it."""
    name = label or path
    with path.open("rb") as handle:
        if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise BackupError(f"{name} is not an SQLite database, so not a banscan backup")
    # Always a private copy (a backup being made, or one being restored), so it may be
    # written to: a copy of a database in WAL mode becomes self-contained.
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=rw", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE").fetchone()
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        if problems != ["ok"]:
            raise BackupError(f"{name} is damaged: {'; '.join(problems[:3])}")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if not 1 <= version <= len(MIGRATIONS):
            raise BackupError(
                f"{name} has schema version {version}; this banscan knows versions 1 to "
                f"{len(MIGRATIONS)}: not a banscan database, or one from a newer banscan"
            )
        missing = _missing_columns(conn, version)
        if missing:
            raise BackupError(
                f"{name} lacks {', '.join(missing[:5])}: not a banscan database of schema "
                f"version {version}"
            )
        records = int(conn.execute("SELECT count(*) FROM records").fetchone()[0])
        origins = frozenset(row[0] for row in conn.execute("SELECT DISTINCT origin FROM feeds"))
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{name} is not a sound SQLite database: {exc}") from exc
    finally:
        conn.close()
    return DatabaseFacts(version, records, path.stat().st_size, origins)


def _missing_columns(conn: sqlite3.Connection, version: int) -> list[str]:
    """Tables and columns that schema ``version`` has and the database lacks."""
    reference = sqlite3.connect(":memory:")
    try:
        for script in MIGRATIONS[:version]:
            reference.executescript(script)
        wanted = _columns(reference)
    finally:
        reference.close()
    have = _columns(conn)
    return sorted(f"{table}.{column}" for table, column in wanted - have)


def _columns(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    tables = [
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not row[0].startswith("sqlite_")
    ]
    return {
        (table, row[1])
        for table in tables
        for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))
    }


def restore_database(backup: Path, target: Path) -> tuple[DatabaseFacts, Path | None]:
    """Check a copy of ``backup`` and install it as the database ``target``.

    Returns what it holds and where the previous database was kept (``None`` if
    there was none). Raises :class:`DatabaseInUseError` while ``target`` is open."""
    directory = target.parent
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".restoring", dir=directory)
    staged = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, backup.open("rb") as source:
            while chunk := source.read(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        facts = check_database(staged, backup)
        with _exclusive(target):
            kept = None
            if target.exists():
                kept = _kept_name(target)
                os.link(target, kept)  # fails rather than replace an earlier one
            os.replace(staged, target)
            _fsync_dir(directory)
        for suffix in SIDE_FILES:
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        _fsync_dir(directory)
        return facts, kept
    finally:
        for suffix in ("", *SIDE_FILES):
            Path(f"{staged}{suffix}").unlink(missing_ok=True)


@contextlib.contextmanager
def _exclusive(target: Path) -> Iterator[None]:
    """Hold an exclusive lock on the current database, with its WAL folded into it.

    A running node keeps a shared lock on its database for as long as it is
    open, so taking this lock fails at once while one runs."""
    if not target.exists():
        yield
        return
    conn = sqlite3.connect(target, isolation_level=None, timeout=0)
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        try:
            # Checkpoints the WAL into the file and removes it, under the lock.
            conn.execute("PRAGMA journal_mode = DELETE").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            raise DatabaseInUseError(target) from exc
        yield
    finally:
        conn.close()


def _kept_name(target: Path) -> Path:
    stamp = utc_text(time.time_ns() // 1_000_000, "basic")
    kept = target.with_name(f"{target.name}.before-restore-{stamp}")
    if kept.exists():
        raise BackupError(f"{kept} already exists; wait a second and try again")
    return kept


# -- small things -------------------------------------------------------------------------


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
