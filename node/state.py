"""Typed application state shared by the node's routes."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from aiohttp import web

from federation.runtime import Federation
from federation.tasks import TaskOwner
from federation.verifier import Verifier
from node.config import Config
from protocol.keys import NodeKey
from storage.store import Store

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
NODE_KEY = web.AppKey("node_key", NodeKey)
VERIFIER = web.AppKey("verifier", Verifier)
FEDERATION = web.AppKey("federation", Federation)
# Every background task of the node; stopped first at cleanup.
TASKS = web.AppKey("tasks", TaskOwner)

T = TypeVar("T")
# How long warming waits for the start-up sync at most (a peer that does not answer).
WARM_WAIT_S: Final = 10.0


async def after_start_sync(app: web.Application, work: Callable[[], Awaitable[T]]) -> T:
    """``work()`` once the node's sync with its peers at start is done, or after
    :data:`WARM_WAIT_S`: what a node warms as it starts (outlines, templates, the tile
    encoder, the map's groups; about two seconds of CPU) slowed a new node's first pull
    of 10,000 records from 2.07-2.13 s to 2.55-2.69 s (bench/README.md)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(app[FEDERATION].gossip.synced_at_start.wait(), WARM_WAIT_S)
    return await work()
