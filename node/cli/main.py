"""The ``banscan`` command line: the root parser, its command groups, and dispatch.

Exit status: 0 on success, 1 when a check found bad records or a command was
refused (``members`` on a node that is no steward), 2 when the command could
not run (bad arguments, configuration or data directory).

Each command module adds its commands with ``register``; :data:`REGISTRATIONS`
lists them in the order ``banscan --help`` shows them.
"""

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from node import __version__
from node.cli import (
    backup,
    desk,
    devnet,
    members,
    moderators,
    operate,
    osm,
    peers,
    queries,
    records,
    submissions,
    verify,
)
from node.cli.backup import BackupError
from node.cli.common import CommandError, CommandFailed
from node.cli.devnet import DevNetworkError
from node.cli.registrar import Registrar, handler_of
from node.config import ConfigError
from node.datadir import DataDirError
from node.listening import ServeError
from protocol.errors import ProtocolError
from storage import StorageError

REGISTRATIONS: tuple[Callable[[Registrar], None], ...] = (
    operate.register,
    peers.register,
    records.register_publish,
    records.register,
    osm.register,
    queries.register,
    members.register,
    verify.register,
    backup.register,
    moderators.register,
    submissions.register,
    desk.register,
    devnet.register,
)

# What a command raises when it cannot run (exit status 2): the message says why.
_CANNOT_RUN = (
    CommandError,
    ConfigError,
    DataDirError,
    StorageError,
    ProtocolError,
    BackupError,
    DevNetworkError,
    ServeError,
)


def main(argv: Sequence[str] | None = None) -> int:
    # Everything the node writes (database, WAL, bundles, keys) is for its owner only.
    os.umask(0o077)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = handler_of(args)
    if handler is None:
        parser.print_help()
        return 2
    try:
        status = handler(args)
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not at exit
        return status
    except _CANNOT_RUN as exc:
        detail = getattr(exc, "detail", None) or str(exc)
        print(f"banscan: error: {detail}", file=sys.stderr)
        return 2
    except CommandFailed as exc:
        print(f"banscan: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``banscan status | head``): stop quietly, and keep the
        # interpreter from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="banscan",
        description="A node of the Ban the Scan network: signed, federated records of police "
        "facial recognition.",
    )
    parser.add_argument("--version", action="version", version=f"banscan {__version__}")
    cli = Registrar(parser, "commands")
    for register in REGISTRATIONS:
        register(cli)
    return parser
