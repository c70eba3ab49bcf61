"""Abuse limits for reports from the public, without keeping anyone's address.

A client is known only by ``HMAC-SHA256(secret, address)``, and the secret is
random, held in memory, and replaced at the start of every UTC day, when all
counters start over. Nothing is written to disk or to the logs: after a
restart, or the next day, yesterday's keys cannot be tied to an address even
by someone who holds the server. An IPv6 client counts by its /64, the block
one subscriber is given, so that one subscriber cannot pose as many.

Each client may make ``per_client`` attempts in a sliding hour, and all
clients together ``total``. Tor users share exit addresses, so ``per_client``
should stay generous; ``total`` is what stops a flood from many addresses.
Attempts are kept to the minute only, and :meth:`RateLimiter.sweep` (run every
minute by the node) forgets clients idle for an hour and a past day's secret,
so a memory dump holds no more than the last hour, and no exact times.

Time is the node's clock (milliseconds since the epoch, UTC), injected so that
tests move it instead of waiting.
"""

import collections
import hashlib
import hmac
import ipaddress
import math
import secrets
from collections.abc import Callable
from typing import Final

from aiohttp import web

WINDOW_MS: Final = 3_600_000
GRAIN_MS: Final = 60_000
_DAY_MS: Final = 86_400_000
_IPV6_PREFIX: Final = 64


class RateLimited(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many requests; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class RateLimiter:
    def __init__(
        self,
        per_client: int,
        total: int,
        *,
        clock: Callable[[], int],
    ) -> None:
        self._per_client = per_client
        self._total = total
        self._clock = clock
        self._day = -1
        self._secret = b""
        self._clients: dict[bytes, collections.deque[int]] = {}
        self._all: collections.deque[int] = collections.deque()

    def client_key(self, address: str) -> bytes:
        """The day's keyed hash of an address; the address itself is not kept."""
        self._rotate(self._clock())
        return hmac.new(self._secret, address.encode("utf-8"), hashlib.sha256).digest()[:16]

    def check(self, address: str) -> None:
        """Count one attempt from ``address``; raise :class:`RateLimited` over the limits."""
        now = self._clock()
        key = self.client_key(address)
        if len(self._clients) > 2 * self._total:
            self.sweep()
        # Kept to the minute: enough for an hour's window, and no exact times.
        minute = now // GRAIN_MS * GRAIN_MS
        self._expire(self._all, now)
        attempts = self._clients.setdefault(key, collections.deque())
        self._expire(attempts, now)
        if len(attempts) >= self._per_client:
            raise RateLimited(self._retry_after(attempts, now))
        if len(self._all) >= self._total:
            raise RateLimited(self._retry_after(self._all, now))
        attempts.append(minute)
        self._all.append(minute)

    def sweep(self) -> None:
        """Forget clients with no attempt in the window, and a past day's secret."""
        now = self._clock()
        self._rotate(now)
        self._expire(self._all, now)
        for attempts in self._clients.values():
            self._expire(attempts, now)
        # Only allowed attempts are counted, so at most ``total`` clients have any
        # in the window: memory stays bounded.
        self._clients = {key: attempts for key, attempts in self._clients.items() if attempts}

    @property
    def clients(self) -> int:
        """How many clients are counted now (their keys, never their addresses)."""
        return len(self._clients)

    def _rotate(self, now: int) -> None:
        day = now // _DAY_MS
        if day != self._day:
            self._day = day
            self._secret = secrets.token_bytes(32)
            self._clients.clear()
            self._all.clear()

    @staticmethod
    def _expire(attempts: collections.deque[int], now: int) -> None:
        while attempts and attempts[0] <= now - WINDOW_MS:
            attempts.popleft()

    def _retry_after(self, attempts: collections.deque[int], now: int) -> int:
        """Seconds, as ``Retry-After`` counts them."""
        return max(1, math.ceil((attempts[0] + WINDOW_MS - now) / 1000))


def client_address(request: web.Request, *, trust_forwarded_for: bool) -> str:
    """What to count a request against: the socket peer, or the proxy's last
    X-Forwarded-For entry; an IPv6 address by its /64."""
    address = request.remote or ""
    if trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        address = forwarded.rsplit(",", 1)[-1].strip()[:64] or address
    return counted_as(address)


def counted_as(address: str) -> str:
    """An IPv4 address as it is; an IPv6 one as its /64 (an IPv4-mapped one as IPv4)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/{_IPV6_PREFIX}", strict=False))
    return str(ip)
