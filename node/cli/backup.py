"""``banscan backup`` and ``banscan restore``: a consistent copy of the database, and back.

A backup is one self-contained SQLite file (rollback-journal mode, no
``-wal``), mode 0600, made with SQLite's online backup API while the node runs.
The copy is the snapshot the database held when the backup began: it holds a
read transaction on its own connection for the whole copy, so in WAL mode
the node's writer is never blocked, and no write made meanwhile can make the
backup restart. Pages are copied in steps so progress can be shown.

The node key is deliberately *not* in a backup: it is the node's identity and
a secret, and must be kept apart (see docs/cli.md, ``banscan backup``).

Restore installs such a file as a data directory's ``banscan.db``: it checks
the file (SQLite, ``integrity_check`` ok, a schema version this banscan
knows, that version's tables), takes an exclusive lock on the current
database (so it refuses while a node, or any other banscan command, has it
open), folds its WAL into it and keeps it as
``banscan.db.before-restore-<UTC timestamp>``, then renames the checked copy
into place and removes stale ``-wal``, ``-shm`` and ``-journal`` files.
"""

import argparse
import contextlib
import datetime
import os
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from node.cli.common import data_dir_of
from node.cli.registrar import Registrar
from node.datadir import DataDir
from storage.migrations import MIGRATIONS

PAGES_PER_STEP = 256
SQLITE_MAGIC = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-shm", "-journal")


class BackupError(Exception):
    """A backup or restore cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class DatabaseFacts:
    """What a checked banscan database holds."""

    schema_version: int
    records: int
    size_bytes: int
    origins: frozenset[bytes]


def register(cli: Registrar) -> None:
    """Add ``backup`` and ``restore``."""
    backup = cli.command(
        "backup",
        "Copy the node's database to a new file while the node runs (the node key is not "
        "included: back it up separately).",
        cmd_backup,
        data_dir=True,
    )
    backup.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="FILE",
        help="the backup file to create (mode 0600); an existing file is never overwritten",
    )
    restore = cli.command(
        "restore",
        "Replace a stopped node's database with a backup; the previous one is kept as "
        "banscan.db.before-restore-<timestamp>.",
        cmd_restore,
        data_dir=True,
    )
    restore.add_argument("file", metavar="FILE", type=Path, help="a file made by banscan backup")


# -- backup -------------------------------------------------------------------------------


def cmd_backup(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    out: Path = args.out
    source = data_dir.database
    if not source.is_file():
        raise BackupError(f"no database in {data_dir.path}: nothing to back up")
    if out.exists() or out.is_symlink():
        raise BackupError(f"{out} already exists; refusing to overwrite it")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent} is not a directory")
    show = _progress_printer() if sys.stderr.isatty() else None
    try:
        facts = backup_database(source, out, progress=show)
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {source} failed: {exc}") from exc
    except OSError as exc:
        raise BackupError(f"cannot write {out}: {exc.strerror or exc}") from exc
    print(f"backed up {source} to {out}")
    print(
        f"  schema version {facts.schema_version}, {facts.records} records, "
        f"{_size(facts.size_bytes)}, integrity ok"
    )
    print(
        f"the node key ({data_dir.key_file.name}) is not in the backup: keep an encrypted copy "
        "of it, and of banscan.toml, apart from this file (see docs/cli.md)"
    )
    return 0


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


# -- restore ------------------------------------------------------------------------------


def cmd_restore(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    backup: Path = args.file
    data_dir.load_config()
    key = data_dir.load_key()
    if not backup.is_file():
        raise BackupError(f"{backup}: no such file")
    if Path(f"{backup}-wal").exists():
        raise BackupError(
            f"{backup} has a write-ahead log beside it: it is a live database, not a backup; "
            "make one with 'banscan backup'"
        )
    try:
        facts, kept = restore_database(backup, data_dir)
    except sqlite3.Error as exc:
        raise BackupError(f"restore into {data_dir.path} failed: {exc}") from exc
    except OSError as exc:
        raise BackupError(f"restore into {data_dir.path} failed: {exc.strerror or exc}") from exc
    print(f"restored {backup} into {data_dir.database}")
    print(
        f"  schema version {facts.schema_version}, {facts.records} records, "
        f"{_size(facts.size_bytes)}, integrity ok"
    )
    if kept is not None:
        print(f"the previous database is kept as {kept}")
    if key.public_key not in facts.origins and facts.origins:
        print(
            f"note: the backup holds no record published by this node's key ({key.text}); "
            f"is {data_dir.key_file} the key of the node that was backed up?"
        )
    print(
        "start the node and let it sync with its peers before publishing: records it "
        "published after the backup are fetched back from them"
    )
    return 0


def restore_database(backup: Path, data_dir: DataDir) -> tuple[DatabaseFacts, Path | None]:
    """Check a copy of ``backup`` and install it as ``data_dir``'s database.

    Returns what it holds and where the previous database was kept (``None`` if
    there was none)."""
    target = data_dir.database
    fd, name = tempfile.mkstemp(prefix=".banscan.db.", suffix=".restoring", dir=data_dir.path)
    staged = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, backup.open("rb") as source:
            while chunk := source.read(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        facts = check_database(staged, backup)
        with _exclusive(data_dir):
            kept = None
            if target.exists():
                kept = _kept_name(target)
                os.link(target, kept)  # fails rather than replace an earlier one
            os.replace(staged, target)
            _fsync_dir(data_dir.path)
        for suffix in SIDE_FILES:
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        _fsync_dir(data_dir.path)
        return facts, kept
    finally:
        for suffix in ("", *SIDE_FILES):
            Path(f"{staged}{suffix}").unlink(missing_ok=True)


@contextlib.contextmanager
def _exclusive(data_dir: DataDir) -> Iterator[None]:
    """Hold an exclusive lock on the current database, with its WAL folded into it.

    A running node keeps a shared lock on its database for as long as it is
    open, so taking this lock fails at once while one runs."""
    target = data_dir.database
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
            url = data_dir.running_url()
            where = f" (it serves {url})" if url else ""
            raise BackupError(
                f"{target} is in use by a running node or another banscan command{where}; "
                "stop it first"
            ) from exc
        yield
    finally:
        conn.close()


def _kept_name(target: Path) -> Path:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
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


def _size(size: int) -> str:
    if size < 1 << 20:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1 << 20):.1f} MiB"


def _progress_printer() -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\rcopied {done} of {total} pages", end=end, file=sys.stderr, flush=True)

    return show
