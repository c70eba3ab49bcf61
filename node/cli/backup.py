"""``banscan backup`` and ``banscan restore``: a consistent copy of the database, and back.

The commands check their arguments and say what happened; the SQLite work
(the online backup, the checks, installing a copy) is :mod:`storage.backup`.

The node key is deliberately *not* in a backup: it is the node's identity and
a secret, and must be kept apart (see docs/cli.md, ``banscan backup``).
"""

import argparse
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from node.cli.common import data_dir_of
from node.cli.registrar import Registrar
from storage.backup import BackupError, DatabaseInUseError, backup_database, restore_database

__all__ = ["BackupError", "register"]


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
        facts, kept = restore_database(backup, data_dir.database)
    except DatabaseInUseError as exc:
        raise DatabaseInUseError(exc.path, data_dir.running_url()) from exc
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


# -- small things -------------------------------------------------------------------------


def _size(size: int) -> str:
    if size < 1 << 20:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1 << 20):.1f} MiB"


def _progress_printer() -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\rcopied {done} of {total} pages", end=end, file=sys.stderr, flush=True)

    return show
