"""How command modules add their commands to the ``banscan`` parser.

A :class:`Registrar` wraps one level of argparse sub-commands. Each command
module has a ``register(cli: Registrar)`` that adds its commands with
:meth:`Registrar.command` (a command and the :data:`Handler` that runs it) or
:meth:`Registrar.group` (a command with sub-commands of its own). Handlers are
typed, so mypy checks every one against :data:`Handler`; :func:`node.cli.main.main`
finds the chosen command's handler with :func:`handler_of` and calls it.
"""

import argparse
from collections.abc import Callable
from pathlib import Path

# Runs one command: gets the parsed arguments, returns the exit status.
Handler = Callable[[argparse.Namespace], int]

_HANDLER = "handler"


class Registrar:
    """The sub-commands of one parser: the root ``banscan`` or a command group."""

    def __init__(self, parser: argparse.ArgumentParser, title: str) -> None:
        self._commands = parser.add_subparsers(title=title, metavar="COMMAND")

    def command(
        self, name: str, help_text: str, handler: Handler, *, data_dir: bool = False
    ) -> argparse.ArgumentParser:
        """Add command ``name``, run by ``handler``; return its parser for its arguments.

        ``data_dir``: the command works on a data directory and takes ``--data-dir``."""
        parser = self._commands.add_parser(name, help=help_text, description=help_text)
        parser.set_defaults(**{_HANDLER: handler})
        if data_dir:
            add_data_dir_option(parser)
        return parser

    def group(self, name: str, help_text: str) -> "Registrar":
        """Add command ``name`` with sub-commands, which the returned registrar adds.

        Run without a sub-command, the group prints its help and exits with status 2."""
        parser = self._commands.add_parser(name, help=help_text, description=help_text)
        parser.set_defaults(**{_HANDLER: lambda _: _usage(parser)})
        return Registrar(parser, f"{name} commands")


def handler_of(args: argparse.Namespace) -> Handler | None:
    """The handler of the command ``args`` were parsed for; None when none was given."""
    handler: Handler | None = getattr(args, _HANDLER, None)
    return handler


def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    """``--data-dir``, for a command that works on a node's data directory."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="the node's data directory (default: $BANSCAN_DATA_DIR, else "
        "$XDG_DATA_HOME/banscan, else ~/.local/share/banscan)",
    )


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
