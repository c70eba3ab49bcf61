"""The node's aiohttp application: state set up and torn down in ``cleanup_ctx``."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from federation.tasks import TaskOwner
from federation.verifier import Verifier
from node import abuse, metrics
from node.abuse import RateLimiter
from node.api import about as api_node
from node.api import campaign as api_campaign
from node.api import desk as api_desk
from node.api import export as api_export
from node.api import federation
from node.api import query as api_query
from node.api import records as api_records
from node.api import submissions as api_submissions
from node.config import Config
from node.datadir import open_node_store
from node.indexwait import index_middleware
from node.logs import log_request
from node.moderation.desk import Desk
from node.moderation.service import Moderation, record_publisher
from node.problems import problem_middleware
from node.readcache import AnswerCache
from node.reads import READS, ReadGate, Reads, read_middleware
from node.security import add_security_headers
from node.state import CONFIG, NODE_KEY, STORE, TASKS, VERIFIER
from node.timing import OBSERVERS, timing_middleware
from node.web import about as site_about
from node.web import act as site_act
from node.web import agencies as site_agencies
from node.web import basemap as site_basemap
from node.web import home as site_home
from node.web import lists as site_lists
from node.web import map as site_map
from node.web import outlines, static, templating
from node.web import policies as site_policies
from node.web import recordpage as site_records
from node.web import report as report_form
from node.web import stats as site_stats
from node.web import tiles as site_tiles
from node.web import tracker as site_tracker
from node.web.figures import FIGURES, FigureCounter
from node.web.site import SITE, SiteInfo, html_errors
from protocol.keys import NodeKey
from storage.store import wall_clock_ms

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
            timing_middleware,
            federation.sign_answers,
            problem_middleware,
            html_errors,
            index_middleware,
            read_middleware,
        ],
        client_max_size=config.limits.max_batch_bytes + _BODY_SLACK,
    )
    app[CONFIG] = config
    app.on_response_prepare.append(add_security_headers)
    app[NODE_KEY] = key
    app[TASKS] = TaskOwner()
    app[templating.TEMPLATES] = templating.shared_environment()
    app[SITE] = SiteInfo.from_config(config)
    app[site_basemap.BASEMAP] = site_basemap.Basemap.configured(
        config.site.basemap, database.parent
    )
    app[metrics.METRICS] = metrics.Metrics()
    app[FIGURES] = FigureCounter(clock)
    app[site_home.SMALL_MAP] = site_home.SmallMap(clock)
    app[OBSERVERS] = (log_request, app[metrics.METRICS].observe)
    for limiter in (abuse.REPORT_LIMITER, abuse.RECEIPT_LIMITER):
        app[limiter] = RateLimiter(
            config.submissions.per_client_per_hour, config.submissions.per_hour, clock=clock
        )
    app[READS] = Reads(
        ReadGate(config.reads.anonymous_concurrency, config.reads.anonymous_queue),
        AnswerCache(config.reads.cache_entries, started_ms=clock()),
        config.reads.max_age_s,
        clock,
    )
    app.on_startup.append(outlines.warm_outlines)
    app.on_startup.append(templating.warm_templates)
    app.on_startup.append(site_tiles.warm_map)
    app.cleanup_ctx.append(store_ctx(database, clock))
    app.cleanup_ctx.append(federation.federation_ctx)
    app.cleanup_ctx.append(api_submissions.retention_ctx)
    # Last in, so first out: every background task stops while the store and the
    # HTTP client it may use are still open.
    app.cleanup_ctx.append(tasks_ctx)
    app.add_routes(api_records.routes)
    app.add_routes(api_node.routes)
    app.add_routes(api_query.routes)
    app.add_routes(api_campaign.routes)
    app.add_routes(api_export.routes)
    app.add_routes(federation.routes)
    app.add_routes(metrics.routes)
    app.add_routes(api_submissions.routes)
    app.add_routes(api_desk.routes)
    app.add_routes(report_form.routes)
    app.add_routes(static.routes)
    app.add_routes(site_about.routes)
    app.add_routes(site_lists.routes)
    app.add_routes(site_records.routes)
    app.add_routes(site_home.routes)
    app.add_routes(site_stats.routes)
    app.add_routes(site_map.routes)
    app.add_routes(site_basemap.routes)
    app.add_routes(site_tiles.routes)
    app.add_routes(site_agencies.routes)
    app.add_routes(site_policies.routes)
    app.add_routes(site_tracker.routes)
    app.add_routes(site_act.routes)
    return app


def store_ctx(
    database: Path, clock: Callable[[], int]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The store, the signature checker and the moderation service, for the app's life."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        config, key = app[CONFIG], app[NODE_KEY]
        app[STORE] = await open_node_store(database, config, key.public_key, clock=clock)
        app[VERIFIER] = Verifier(
            config.network.id, config.limits.limits(), config.node.verify_threads
        )
        store = app[STORE]
        # The map's incident groups may be as old as its tiles may (node/web/tiles.py).
        store.map.max_age_ms = config.site.map_max_age_s * 1000
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
            claims=store.desk,
        )
        app[api_desk.DESK] = Desk(store.submissions, store.desk, config.moderation.claim_minutes)
        try:
            yield
        finally:
            app[VERIFIER].close()
            await app[STORE].close()

    return ctx


async def tasks_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cancel every background task of the node, and wait until all have stopped."""
    yield
    await app[READS].close()
    await app[TASKS].close()
