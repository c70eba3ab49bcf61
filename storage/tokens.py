"""API bearer tokens. Only a SHA-256 of each token is stored.

Tokens carry 256 random bits, so a fast hash is enough: there is nothing to
brute-force, and a stolen database yields no usable token.

Writers' tokens are looked up once and then remembered (:meth:`TokenStore.writer`),
so a publisher's request does not wait for the reader connection behind
anonymous reads. A remembered token may have been revoked since by another
process (``banscan token revoke`` on the data directory), so every write made
with one checks, inside its own transaction, that the token is still there
(:func:`still_held`): nothing is written with a revoked token, and the check
costs no extra round trip.
"""

import enum
import hashlib
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from storage.database import Database

TOKEN_PREFIX = "bst_"  # noqa: S105 (a prefix that marks banscan tokens, not a secret)


class Role(enum.StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"
    PUBLISHER = "publisher"
    ANALYST = "analyst"


# Writers' tokens remembered at most; a node has a handful.
REMEMBERED = 256


@dataclass(frozen=True, slots=True)
class TokenInfo:
    role: Role
    label: str
    created_ms: int
    # The stored SHA-256 of the token, to check it again inside a write's transaction.
    digest: bytes = field(default=b"", repr=False)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenStore:
    def __init__(self, db: Database, clock: Callable[[], int]) -> None:
        self._db = db
        self._clock = clock
        self._writers: dict[bytes, TokenInfo] = {}

    async def create(self, role: Role, label: str = "") -> str:
        """A new token for ``role``; it is returned once and never stored in the clear."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO tokens (hash, role, label, created_ms) VALUES (?, ?, ?, ?)",
                (_digest(token), role.value, label, self._clock()),
            )
        return token

    async def lookup(self, token: str) -> TokenInfo | None:
        """The token's role, as the database says now."""
        digest = _digest(token)
        rows = await self._db.reader.execute_fetchall(
            "SELECT role, label, created_ms FROM tokens WHERE hash = ?", (digest,)
        )
        for role, label, created_ms in rows:
            return TokenInfo(Role(role), label, created_ms, digest)
        return None

    async def writer(self, token: str) -> TokenInfo | None:
        """The token's role, remembered once found. Use it only to write, with
        :func:`still_held` checking it again in the write's transaction."""
        digest = _digest(token)
        info = self._writers.get(digest)
        if info is None:
            info = await self.lookup(token)
            if info is not None:
                if len(self._writers) >= REMEMBERED:
                    self._writers.clear()
                self._writers[digest] = info
        return info

    def forget(self, digest: bytes) -> None:
        """Stop remembering a token (revoked here or found gone); any thread may call it."""
        self._writers.pop(digest, None)

    async def revoke(self, token: str) -> bool:
        """Forget ``token``; False if it was not known."""
        digest = _digest(token)
        self.forget(digest)
        async with self._db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM tokens WHERE hash = ?", (digest,))
            return cursor.rowcount > 0


def still_held(conn: sqlite3.Connection, info: TokenInfo) -> bool:
    """Whether ``info``'s token is still stored: called inside a write's transaction, on
    the writer's thread, so that the write and the check see the same database."""
    row = conn.execute("SELECT 1 FROM tokens WHERE hash = ?", (info.digest,)).fetchone()
    return row is not None
