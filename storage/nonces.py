"""Request nonces this node has accepted, kept until their signature expires.

The federation's replay check (docs/protocol.md section 15) remembers each
``(keyid, nonce)`` pair of an accepted request until 30 s after its
``expires``. Kept in memory only, that memory would end with the process, and
a request captured before a restart could be replayed to the new process for
the rest of its window; kept here, a pair outlives restarts and ``kill -9``
(it is committed before the request is answered).
"""

from storage.database import Database


class NonceStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, keyid: str, nonce: str, until_s: int, now_s: int) -> bool:
        """Remember ``nonce`` for ``keyid`` until ``until_s``; False when the pair is already
        remembered (a replay). Pairs past their time are forgotten on the way."""
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM request_nonces WHERE until_s < ?", (now_s,))
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO request_nonces (keyid, nonce, until_s) VALUES (?, ?, ?)",
                (keyid, nonce, until_s),
            )
            return cursor.rowcount == 1

    async def count(self) -> int:
        rows = await self._db.reader.execute_fetchall("SELECT COUNT(*) FROM request_nonces")
        return int(next(iter(rows))[0])
