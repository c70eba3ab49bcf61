"""The SQLite database: one writer connection, one reader connection, migrations.

Both connections are aiosqlite's: each runs its statements on a thread of its
own, and every awaited call is a round trip through that thread and back
through the event loop. Under load that wait, not SQLite, is what a write
costs (bench/README.md, "bench/publishpath.py"), so the hot writes (records)
use :meth:`Database.write`: the whole transaction, ``BEGIN`` to ``COMMIT``,
as one synchronous function on the writer's thread, one round trip in all.
Other writes, seldom and small, use :meth:`Database.transaction`.

Checkpoints (copying the WAL back into the database file, with an fsync of
that file) run on a third connection of their own, in the background, once
:data:`CHECKPOINT_CHANGES` rows have changed since the last one started and it
has finished: SQLite's automatic checkpoint would run inside the commit that
crosses its threshold, so that one write waited for a checkpoint of
everything the others wrote. Counting rows rather than commits (every 32
commits before) keeps single publishes at one checkpoint in about 30 commits,
while an import's batches, thousands of pages each, get one after each commit:
every 32 of those was too late, the writer's own bound was reached first, and
13 % of the writer's time went into checkpoints run inside its commits
(bench/README.md, "Where the time goes as the database grows"). The writer
keeps an automatic checkpoint only as a bound, far above, in case the
background ones cannot keep up. Durability is the commit's, as before: the
WAL is synced when a transaction commits (``synchronous``), whoever
checkpoints it later.

SQLite's default page cache (2 MB) is far smaller than the records table's
indexes: a batch's inserts then read index pages back from the file and spill
dirty pages into the WAL before the commit (a fifth of the writer's time at
100,000 records). The writer gets :data:`WRITER_CACHE_KIB`, the reader
:data:`READER_CACHE_KIB`; the node's peak RSS stays within issue 2's 200 MB.
"""

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal, TypeVar

import aiosqlite
import structlog

from storage import SchemaVersionError
from storage.migrations import BACKFILLS, MIGRATIONS
from storage.sql import split_statements

Synchronous = Literal["normal", "full"]
BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_WAIT_MS = 1_000
# A background checkpoint once this many rows changed (publishing an incident changes 13).
CHECKPOINT_CHANGES = 400
# The writer's own automatic checkpoint, a bound on the WAL (pages) should those fall behind.
WRITER_AUTOCHECKPOINT = 32_000
# Page caches (KiB): the writer's holds the hot parts of the indexes a batch inserts into.
WRITER_CACHE_KIB = 49_152
READER_CACHE_KIB = 8_192
T = TypeVar("T")
log = structlog.get_logger("banscan.database")


class Database:
    """Owns the connections. Writes go through :meth:`transaction`, one at a time."""

    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        checkpointer: aiosqlite.Connection,
    ):
        self.path = path
        self._writer = writer
        self.reader = reader
        self._checkpointer = checkpointer
        self._write_lock = asyncio.Lock()
        self._checkpointed_changes = 0
        self._checkpointing: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: Path, *, synchronous: Synchronous = "full") -> "Database":
        opened: list[aiosqlite.Connection] = []
        try:
            opened.append(await _connect(path, synchronous, WRITER_CACHE_KIB))
            await _migrate(opened[0])
            await opened[0].execute_fetchall(f"PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT}")
            opened.append(await _connect(path, synchronous, READER_CACHE_KIB))
            opened.append(await _connect(path, synchronous))
        except BaseException:
            for conn in opened:
                await conn.close()
            raise
        return cls(path, *opened)

    async def close(self) -> None:
        async with self._write_lock:
            await self._settle()
            await self._checkpointer.close()
            await self.reader.close()
            await self._writer.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One ``BEGIN IMMEDIATE`` write transaction; committed on success, else rolled back."""
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                await self._writer.rollback()
                raise
            await self._writer.commit()
            self._committed()

    async def write(
        self,
        work: Callable[[sqlite3.Connection], T],
        committed: Callable[[T], None] | None = None,
    ) -> T:
        """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction on the writer's thread, in
        one round trip: committed when it returns, rolled back when it raises.

        ``work`` runs on that thread, so it may use the connection it is given and
        nothing of the event loop's. ``committed`` runs there too, right after the
        commit and before the result comes back, so that what must follow a commit
        (the in-memory trust state) cannot be separated from it by a cancelled
        caller. Writes are one at a time, in the order asked, with those of
        :meth:`transaction`."""
        async with self._write_lock:
            # aiosqlite runs any callable on its thread through ``_execute``; its public
            # methods are that same call, one statement each.
            result: T = await self._writer._execute(  # type: ignore[no-untyped-call]
                self._run, work, committed
            )
            self._committed()
        return result

    def _run(
        self, work: Callable[[sqlite3.Connection], T], committed: Callable[[T], None] | None
    ) -> T:
        """On the writer's thread: the transaction of :meth:`write`."""
        conn = self._writer._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            conn.commit()
        except BaseException:
            # A failed COMMIT (a full disk) can leave the transaction open: end it, so
            # that the next write does not find itself inside this one.
            if conn.in_transaction:
                conn.rollback()
            raise
        if committed is not None:
            committed(result)
        return result

    def _committed(self) -> None:
        """After a commit (under the write lock, the writer idle): a background
        checkpoint once :data:`CHECKPOINT_CHANGES` rows changed, unless one is running."""
        changes = self._writer.total_changes
        if changes - self._checkpointed_changes >= CHECKPOINT_CHANGES and (
            self._checkpointing is None or self._checkpointing.done()
        ):
            self._checkpointed_changes = changes
            self._checkpointing = asyncio.get_running_loop().create_task(self._passive())

    async def _passive(self) -> None:
        """Checkpoint what no reader still needs, without waiting for anyone."""
        try:
            await self._checkpointer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # the writer's own bound still holds the WAL
            log.warning("background checkpoint failed", error=str(exc))

    async def _settle(self) -> None:
        """Wait for a background checkpoint still running."""
        if self._checkpointing is not None:
            await asyncio.shield(self._checkpointing)

    async def checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate it, so no freed page lingers there.

        False when a reader (a backup, another process) kept it from completing
        within :data:`CHECKPOINT_WAIT_MS`: the old frames are still in the WAL.
        """
        async with self._write_lock:
            await self._settle()
            # Wait briefly for readers: writers queue behind this lock meanwhile.
            await self._writer.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
            try:
                async with self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
                    row = await cursor.fetchone()
            finally:
                await self._writer.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return row is not None and row[0] == 0

    async def schema_version(self) -> int:
        async with self.reader.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


async def _connect(
    path: Path, synchronous: Synchronous, cache_kib: int | None = None
) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if cache_kib is not None:
            await conn.execute(f"PRAGMA cache_size = -{cache_kib}")
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        await conn.execute("PRAGMA foreign_keys = ON")
        # Deleted bodies are overwritten on disk, not merely unlinked from the b-tree.
        await conn.execute("PRAGMA secure_delete = ON")
    except BaseException:
        await conn.close()
        raise
    return conn


async def _migrate(conn: aiosqlite.Connection) -> None:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    if current > len(MIGRATIONS):
        raise SchemaVersionError(
            f"the database has schema version {current}, but this banscan knows only up to "
            f"{len(MIGRATIONS)}; upgrade banscan"
        )
    for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in split_statements(script):
                await conn.execute(statement)
            if (backfill := BACKFILLS.get(version)) is not None:
                await backfill(conn)
            await conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            await conn.rollback()
            raise
        await conn.commit()
