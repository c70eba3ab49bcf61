"""The ``banscan`` command line: one module per command group.

:mod:`node.cli.main` holds the root parser, the list of command groups and
:func:`main`; each command module (:mod:`.operate`, :mod:`.peers`,
:mod:`.records`, :mod:`.queries`, :mod:`.members`, :mod:`.verify`,
:mod:`.backup`, :mod:`.moderators`, the :mod:`.submissions` package,
:mod:`.devnet`) has a ``register(cli)`` that adds its commands through the
typed :class:`~node.cli.registrar.Registrar`. Shared pieces (errors, tables,
:func:`~node.cli.common.opened_store`) are in :mod:`node.cli.common`.
The CLI may import anything in ``node``; nothing in ``node`` imports it.
"""

from node.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
