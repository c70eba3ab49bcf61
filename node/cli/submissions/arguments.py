"""Checking what ``banscan submissions`` commands are given: ids and key files."""

import re
from pathlib import Path

from node.cli.common import CommandError
from node.moderation.submissions import SUBMISSION_ID_PATTERN
from protocol.errors import KeyFormatError
from protocol.sealing import ModeratorKey


def parse_submission_id(text: str) -> str:
    """ID as given on the command line, checked."""
    if not re.fullmatch(SUBMISSION_ID_PATTERN, text):
        raise CommandError(f"{text[:40]!r} is not a submission id (sub_ and 16 letters)")
    return text


def load_moderator_key(path: Path) -> ModeratorKey:
    """The moderator's key file ``--key`` names."""
    try:
        return ModeratorKey.load(path)
    except KeyFormatError as exc:
        raise CommandError(exc.detail) from exc
