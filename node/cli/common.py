"""What the ``banscan`` command modules share: their errors, tables, and the store.

Errors a command raises are turned into a message and an exit status by
:func:`node.cli.main`: :class:`CommandError` (2) when a command cannot run,
:class:`CommandFailed` (1) when it ran but was refused.

A command that works on a node's database opens it with :func:`opened_store`,
or, for one piece of work from synchronous code, :func:`run_on_store`; both
close it whatever happens.
"""

import argparse
import asyncio
import datetime
import getpass
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from node.config import steward_keys
from node.datadir import DataDir, default_data_dir
from storage.store import Store

T = TypeVar("T")


class CommandError(Exception):
    """A command cannot run; the message says why and what to do."""


class CommandFailed(Exception):
    """A command ran but was refused (exit status 1); the message says why."""


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], int) for row in rows) and rows for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if numeric[i] else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def utc_time(ms: int) -> str:
    """A moment in milliseconds since the epoch, as the tables print it: UTC to the second."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def data_dir_of(args: argparse.Namespace) -> DataDir:
    """The data directory ``--data-dir`` names, else the default one."""
    return DataDir(args.data_dir if args.data_dir is not None else default_data_dir())


def cli_actor() -> str:
    """Who the audit log names for a local command: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli:unknown"


async def open_store(data_dir: DataDir) -> Store:
    """The node's store, opened with its configuration, as ``banscan run`` opens it.

    The caller closes it; :func:`opened_store` does that for you."""
    config = data_dir.load_config()
    key = data_dir.load_key()
    return await Store.open(
        data_dir.database,
        synchronous=config.storage.synchronous,
        stewards=steward_keys(config, key.public_key),
        quarantine_max_bytes=config.federation.quarantine_max_bytes,
    )


@asynccontextmanager
async def opened_store(data_dir: DataDir) -> AsyncIterator[Store]:
    """The node's store for the ``async with`` block, closed when it ends."""
    store = await open_store(data_dir)
    try:
        yield store
    finally:
        await store.close()


def run_on_store(data_dir: DataDir, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the node's store, run ``work`` on it in a new event loop, close it; its result."""

    async def run() -> T:
        async with opened_store(data_dir) as store:
            return await work(store)

    return asyncio.run(run())
