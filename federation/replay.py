"""The in-memory half of the replay check on signed requests (docs/protocol.md section 15):
the nonces :class:`federation.httpsig.Authenticator` has seen, each until its signature's
window ends. The other half, which outlives a restart, is :mod:`storage.nonces`.
"""

from collections.abc import Callable

Clock = Callable[[], float]


class NonceCache:
    """Nonces seen within their signature's window; bounded, oldest expiry dropped first.

    A nonce only needs remembering until its signature expires: after that
    the ``expires`` check refuses a replay on its own.
    """

    def __init__(self, clock: Clock, capacity: int = 100_000) -> None:
        self._clock = clock
        self._capacity = capacity
        self._expiry: dict[tuple[str, str], float] = {}

    def __len__(self) -> int:
        return len(self._expiry)

    def claim(self, keyid: str, nonce: str, expires: float) -> bool:
        """Record ``nonce`` for ``keyid``; False when it was already seen and has not expired."""
        now = self._clock()
        entry = (keyid, nonce)
        if self._expiry.get(entry, 0.0) >= now:
            return False
        if len(self._expiry) >= self._capacity:
            self._prune(now)
        self._expiry[entry] = expires
        return True

    def _prune(self, now: float) -> None:
        live = {k: v for k, v in self._expiry.items() if v >= now}
        if len(live) >= self._capacity:
            # Under a flood of fresh nonces: keep the half that expires last.
            keep = sorted(live.items(), key=lambda item: item[1])[len(live) // 2 :]
            live = dict(keep)
        self._expiry = live
