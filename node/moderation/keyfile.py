"""A moderator's key file: written once, readable by its owner only, never overwritten.

What the file holds is :class:`protocol.sealing.ModeratorKey`'s (``file_text``
and ``from_file_text``); this module does the reading and writing, so that
:mod:`protocol` stays free of file I/O.
"""

import os
from pathlib import Path

from protocol.errors import KeyFormatError
from protocol.sealing import PUBLIC_PREFIX, ModeratorKey


def save_moderator_key(key: ModeratorKey, path: Path) -> None:
    """Write ``key`` to a new file of mode 0600; an existing file raises FileExistsError."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(key.file_text() + "\n")


def load_moderator_key(path: Path) -> ModeratorKey:
    """The key in the file at ``path``; KeyFormatError naming the file and what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFormatError(f"{path}: cannot read the moderator key file: {exc}") from exc
    if text.lstrip().startswith(PUBLIC_PREFIX):
        private = path.with_name(path.name.removesuffix(".pub"))
        beside = (
            f" ({private}, beside it, if you made it here)"
            if path.name.endswith(".pub") and private != path
            else ""
        )
        raise KeyFormatError(
            f"{path} is the PUBLIC half of a moderator key (what the node's operator adds); "
            f"opening reports needs the PRIVATE key file that banscan moderators keygen "
            f"wrote{beside}: give that file as --key"
        )
    return ModeratorKey.from_file_text(text, str(path))
