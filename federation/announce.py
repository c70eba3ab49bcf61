"""Announcing: this node's ``node`` record, published again when its URLs or description change.

Peers learn where a member is reachable from its ``node`` record
(``federation.discovery``). A node publishes one at start when the record it
last published says something else than its configuration now does, and
nothing when they agree, so a restart does not grow its feed.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from federation.settings import Announcement
from protocol.kinds import NodeInfo, decode_body
from protocol.records import VerifiedRecord
from storage.store import Store

# Publishes this node's record of a kind in an audience (``node.publishing.publish``).
Publish = Callable[[str, str, dict[str, Any]], Awaitable[VerifiedRecord]]


def node_info(announcement: Announcement) -> NodeInfo:
    return NodeInfo(
        urls=list(announcement.urls),
        name=announcement.name,
        city=announcement.city,
        country=announcement.country,
        software=announcement.software,
    )


async def announce(
    store: Store, own_key: bytes, announcement: Announcement, publish: Publish
) -> VerifiedRecord | None:
    """Publish a ``node`` record unless the latest one says the same; the new record."""
    wanted = node_info(announcement)
    latest = dict(await store.peers.node_records()).get(own_key)
    if latest is not None and _same_place(decode_body("node", latest), wanted):
        return None
    return await publish("node", "public", wanted.model_dump(exclude_none=True))


def _same_place(held: object, wanted: NodeInfo) -> bool:
    return isinstance(held, NodeInfo) and held.model_dump() == wanted.model_dump()
