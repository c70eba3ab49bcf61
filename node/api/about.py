"""Routes about the node itself: identity, health and the OpenAPI document."""

from aiohttp import web

from node import __version__
from node.api.openapi import openapi_document
from node.state import CONFIG, NODE_KEY, STORE

routes = web.RouteTableDef()


@routes.get("/api/v1/node")
async def node_info(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    # The indexer's own figures, kept in memory: no query, so polling this is cheap
    # (a COUNT over the log at every poll was a sixth of a bench node's CPU).
    indexer = request.app[STORE].records.indexer
    return web.json_response(
        {
            "key": request.app[NODE_KEY].text,
            "network_id": config.network.id,
            "stewards": config.network.stewards or [request.app[NODE_KEY].text],
            "software": "banscan",
            "version": __version__,
            # How far the index (queries, stats, pages, exports) has caught up with the
            # records acknowledged (docs/api.md, "GET /api/v1/node").
            "index": {
                "pending": indexer.backlog,
                "set_aside": indexer.set_aside,
                "logged": indexer.logged,
                "indexed": indexer.indexed,
            },
        }
    )


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    try:
        version = await request.app[STORE].db.schema_version()
    except Exception as exc:  # any failure to read means the database is not healthy
        return web.json_response(
            {"status": "failing", "database": f"unavailable: {type(exc).__name__}"}, status=503
        )
    store = request.app[STORE]
    now = store.clock()
    peers = await store.peers.all()
    backed_off = sum(
        1 for p in peers if p.backoff_until_ms is not None and p.backoff_until_ms > now
    )
    return web.json_response(
        {
            "status": "ok",
            "database": "ok",
            "schema_version": version,
            # Peers failing do not make this node unhealthy; operators watch them.
            "peers": {
                "known": len(peers),
                "ok": sum(1 for p in peers if p.last_success_ms is not None and not p.failures),
                "failing": sum(1 for p in peers if p.failures),
                "backed_off": backed_off,
            },
        }
    )


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(__version__))
