"""``--help`` of ``banscan`` and of every sub-command, pinned byte for byte.

The CLI is part of the product: a refactoring of :mod:`node.cli` must not change
a word of what ``--help`` prints. ``tests/cli_help.txt`` holds the help of the
root parser and of every command, found by walking the parser's sub-commands,
at a fixed terminal width. After a deliberate change to the CLI, regenerate it::

    python3 tests/test_cli_help.py
"""

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.cli import build_parser

PINNED = Path(__file__).parent / "cli_help.txt"
WIDTH = "100"


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def render_help() -> str:
    """Every command's ``--help``, each under a ``$ banscan ... --help`` line."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        sections = []
        for path, parser in _commands(build_parser(), ()):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                parser.print_help()
            sections.append(f"$ {' '.join(('banscan', *path, '--help'))}\n{out.getvalue()}")
        return "\n".join(sections)
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def test_help_of_every_command_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", WIDTH)
    assert render_help() == PINNED.read_text(encoding="utf-8")


def test_the_walk_reaches_nested_commands() -> None:
    text = PINNED.read_text(encoding="utf-8")
    for line in ("$ banscan --help", "$ banscan token create --help", "$ banscan peers --help"):
        assert line in text.splitlines()


if __name__ == "__main__":
    PINNED.write_text(render_help(), encoding="utf-8")
    sys.exit(0)
