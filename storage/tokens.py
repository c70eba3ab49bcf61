"""API bearer tokens. Only a SHA-256 of each token is stored.

Tokens carry 256 random bits, so a fast hash is enough: there is nothing to
brute-force, and a stolen database yields no usable token.
"""

import enum
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from storage.database import Database

TOKEN_PREFIX = "bst_"  # noqa: S105 (a prefix that marks banscan tokens, not a secret)


class Role(enum.StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"
    PUBLISHER = "publisher"
    ANALYST = "analyst"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    role: Role
    label: str
    created_ms: int


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenStore:
    def __init__(self, db: Database, clock: Callable[[], int]) -> None:
        self._db = db
        self._clock = clock

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
        async with self._db.reader.execute(
            "SELECT role, label, created_ms FROM tokens WHERE hash = ?", (_digest(token),)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return TokenInfo(Role(row[0]), row[1], row[2])

    async def revoke(self, token: str) -> bool:
        """Forget ``token``; False if it was not known."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM tokens WHERE hash = ?", (_digest(token),))
            return cursor.rowcount > 0
