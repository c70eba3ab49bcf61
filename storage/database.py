"""The SQLite database: one writer connection, one reader connection, migrations."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

import aiosqlite

from storage import SchemaVersionError
from storage.migrations import BACKFILLS, MIGRATIONS
from storage.sql import split_statements

Synchronous = Literal["normal", "full"]
BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_WAIT_MS = 1_000


class Database:
    """Owns the connections. Writes go through :meth:`transaction`, one at a time."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self._writer = writer
        self.reader = reader
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, synchronous: Synchronous = "full") -> "Database":
        writer = await _connect(path, synchronous)
        try:
            await _migrate(writer)
            reader = await _connect(path, synchronous)
        except BaseException:
            await writer.close()
            raise
        return cls(path, writer, reader)

    async def close(self) -> None:
        async with self._write_lock:
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

    async def checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate it, so no freed page lingers there.

        False when a reader (a backup, another process) kept it from completing
        within :data:`CHECKPOINT_WAIT_MS`: the old frames are still in the WAL.
        """
        async with self._write_lock:
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


async def _connect(path: Path, synchronous: Synchronous) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
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
