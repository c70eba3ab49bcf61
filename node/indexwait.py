"""Reads while the index catches up: read-your-writes for small backlogs, and the header.

A batch imported or pulled from a peer is acknowledged once it is in the log
(``storage.pending``); the indexer then indexes it in the background
(``storage.indexer``). Records by id and sync's feed reads see the log at once;
every other read (queries, stats, pages, the map, exports) reads the index, exact
as of the indexer's position.

So that a client that imports and then reads sees what it imported, a ``GET`` or
``HEAD`` waits, before it is handled, until the indexer has indexed everything
acknowledged when the request arrived, at most :data:`WAIT_S`, when the backlog is
at most one indexer step: a few hundred milliseconds. During a bulk pull the backlog
is larger and reads are answered at once, as of the index. An API answer given
while records wait says how many in :data:`PENDING_HEADER` (docs/api.md).
"""

from collections.abc import Awaitable, Callable

from aiohttp import web

from node.state import STORE

PENDING_HEADER = "Banscan-Index-Pending"
WAIT_S = 2.0
# Reads that never wait: sync reads the log itself, static files do not change, and
# the node's own state (which says how far the index is) must answer at once.
_NEVER_WAIT = ("/federation/", "/static/", "/healthz", "/metrics", "/api/v1/node")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def index_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD") or request.path.startswith(_NEVER_WAIT):
        return await handler(request)
    indexer = request.app[STORE].records.indexer
    if 0 < indexer.backlog <= indexer.chunk:
        await indexer.caught_up(WAIT_S)
    response = await handler(request)
    waiting = indexer.backlog
    if waiting and request.path.startswith("/api/") and not response.prepared:
        response.headers[PENDING_HEADER] = str(waiting)
    return response
