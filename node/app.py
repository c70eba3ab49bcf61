"""The node's aiohttp application: state set up and torn down in ``cleanup_ctx``."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from node import metrics
from node.abuse import RateLimiter
from node.api import about as api_node
from node.api import export as api_export
from node.api import federation
from node.api import query as api_query
from node.api import records as api_records
from node.api import submissions as api_submissions
from node.config import Config, steward_keys
from node.logs import request_log_middleware
from node.moderation.submissions import Moderation, record_publisher
from node.problems import problem_middleware
from node.security import add_security_headers
from node.state import CONFIG, NODE_KEY, STORE, VERIFIER
from node.web import report as report_form
from node.web import templating
from protocol.keys import NodeKey
from storage.ingest import Verifier
from storage.store import Store, wall_clock_ms

# Room for the request line and headers beyond the largest accepted batch.
_BODY_SLACK = 64 * 1024


def create_app(
    config: Config,
    key: NodeKey,
    database: Path,
    *,
    clock: Callable[[], int] = wall_clock_ms,
) -> web.Application:
    app = web.Application(
        middlewares=[
            request_log_middleware,
            metrics.metrics_middleware,
            problem_middleware,
        ],
        client_max_size=config.limits.max_batch_bytes + _BODY_SLACK,
    )
    app[CONFIG] = config
    app.on_response_prepare.append(add_security_headers)
    app[NODE_KEY] = key
    app[templating.TEMPLATES] = templating.environment()
    app[metrics.METRICS] = metrics.Metrics()
    for limiter in (api_submissions.REPORT_LIMITER, api_submissions.RECEIPT_LIMITER):
        app[limiter] = RateLimiter(
            config.submissions.per_client_per_hour, config.submissions.per_hour
        )

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        app[STORE] = await Store.open(
            database,
            synchronous=config.storage.synchronous,
            clock=clock,
            stewards=steward_keys(config, key.public_key),
            quarantine_max_bytes=config.federation.quarantine_max_bytes,
        )
        app[VERIFIER] = Verifier(
            config.network.id, config.limits.limits(), config.node.verify_threads
        )
        store = app[STORE]
        app[api_submissions.MODERATION] = Moderation(
            store.submissions,
            store.records,
            record_publisher(
                store.records,
                key,
                network_id=config.network.id,
                limits=config.limits.limits(),
                clock=store.clock,
            ),
        )
        try:
            yield
        finally:
            app[VERIFIER].close()
            await app[STORE].close()

    app.cleanup_ctx.append(store_ctx)
    app.cleanup_ctx.append(federation.federation_ctx)
    app.cleanup_ctx.append(api_submissions.retention_ctx)
    app.add_routes(api_records.routes)
    app.add_routes(api_node.routes)
    app.add_routes(api_query.routes)
    app.add_routes(api_export.routes)
    app.add_routes(federation.routes)
    app.add_routes(metrics.routes)
    app.add_routes(api_submissions.routes)
    app.add_routes(report_form.routes)
    return app
