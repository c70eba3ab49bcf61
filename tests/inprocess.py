"""The ``banscan`` CLI run in this process (:func:`node.cli.main.main`), output captured.

A child process (:func:`tests.nodeproc.banscan`) costs 1 to 3 s on a loaded machine,
most of it imports: a test about what a command says and does runs it here, and each
command family keeps at least one test that runs it in a child process, as a person
does.
"""

import os
from dataclasses import dataclass

import pytest

from node.cli.main import main


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Done:
    """``banscan ARGS`` in this process; the umask it sets is put back, and a usage
    error's exit (argparse's ``SystemExit``) is its exit status, as in a child."""
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.umask(umask)
    out, err = capsys.readouterr()
    return Done(code, out, err)


def good(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """``banscan ARGS`` in this process, which must succeed; its output."""
    done = cli(capsys, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
