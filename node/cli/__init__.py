"""The ``banscan`` command line: one module per command group.

:mod:`node.cli.main` holds the root parser, the node's own commands and
:func:`main`; each other module registers one group of commands. Shared
helpers (errors, opening a data directory's store) are in :mod:`node.cli.common`.
The CLI may import anything in ``node``; nothing in ``node`` imports it.
"""

from node.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
