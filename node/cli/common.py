"""What the ``banscan`` command modules share: their errors, tables, and the store.

Errors a command raises are turned into a message and an exit status by
:func:`node.cli.main`: :class:`CommandError` (2) when a command cannot run,
:class:`CommandFailed` (1) when it ran but was refused.
"""

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from node.datadir import DataDir, default_data_dir, open_node_store
from storage.store import Store

# How a command module registers a sub-command: ``command(name, help, handler[, parent])``.
CommandAdder = Callable[..., argparse.ArgumentParser]


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


def usage(parser: argparse.ArgumentParser) -> int:
    """For a command group run without a sub-command: its help, and exit status 2."""
    parser.print_help()
    return 2


def data_dir_of(args: argparse.Namespace) -> DataDir:
    """The data directory ``--data-dir`` names, else the default one."""
    return DataDir(args.data_dir if args.data_dir is not None else default_data_dir())


async def open_store(data_dir: DataDir) -> Store:
    """The node's store, opened with its configuration, as ``banscan run`` opens it."""
    config = data_dir.load_config()
    key = data_dir.load_key()
    return await open_node_store(data_dir.database, config, key.public_key)
