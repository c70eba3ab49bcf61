"""Waiting for a condition: poll it until it holds, and fail after a deadline.

Tests wait this way instead of sleeping a fixed time, so that they are as fast as
the machine allows and still pass on a busy one.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# What is awaited, for the failure message; a callable is called only on failure, to
# say what the state was then (a log's tail, what is still missing).
What = str | Callable[[], str]

WITHIN_S = 30.0


def eventually(
    check: Callable[[], T], what: What, within_s: float = WITHIN_S, poll: float = 0.05
) -> T:
    """Call ``check`` until it returns something true, and return that; fail after
    ``within_s`` seconds. ``check`` may also raise AssertionError to fail at once."""
    deadline = time.monotonic() + within_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_s:.0f} s: {_said(what)}")
        time.sleep(poll)


async def eventually_async(
    check: Callable[[], Awaitable[T]], what: What, within_s: float = WITHIN_S, poll: float = 0.02
) -> T:
    """``eventually`` for a coroutine check, waiting without blocking the event loop
    (a server under test may run in the same loop)."""
    deadline = time.monotonic() + within_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_s:.0f} s: {_said(what)}")
        await asyncio.sleep(poll)


def _said(what: What) -> str:
    return what if isinstance(what, str) else what()
