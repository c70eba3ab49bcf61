"""Discovery: the peers a node syncs with, beyond those its configuration names.

Every member may announce where it is reachable in a ``node`` record
(``federation.announce``). A node adds as a peer each member whose ``node``
record it holds, and forgets a discovered peer once it is no member any more
(a suspended or rotated key). It looks again whenever ``node`` or
``membership`` records arrive, and every sync interval besides.
"""

import asyncio

import structlog

from protocol.errors import ProtocolError
from protocol.kinds import NodeInfo, decode_body
from storage.store import Store

log = structlog.get_logger("banscan.federation")


async def discover(store: Store, own_key: bytes) -> None:
    """Add the peers that members' ``node`` records name, and forget discovered peers
    that are no longer members."""
    trust = store.trust
    for peer in await store.peers.all():
        if peer.source == "discovered" and not trust.is_member(peer.key):
            await store.peers.remove(peer.key)
    for origin, body in await store.peers.node_records():
        if origin == own_key or not trust.is_member(origin):
            continue
        try:
            info = decode_body("node", body)
        except ProtocolError:
            continue
        assert isinstance(info, NodeInfo)
        await store.peers.add(origin, info.urls[0], "discovered", store.clock())


async def run_discovery(store: Store, own_key: bytes, interval_s: float) -> None:
    """Discover every ``interval_s`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await discover(store, own_key)
        except Exception:
            log.exception("discovery failed")
