"""``banscan run``: serve the node until SIGTERM or SIGINT, then shut down gracefully.

On a signal the server stops accepting connections, lets requests in flight
finish (their transactions commit or roll back whole), then closes the store.
It waits for those requests itself before the runner's cleanup: once that
begins, aiohttp stops reading from open connections, so a request whose body
was still arriving would stall until the grace period ran out and be dropped.

Before anything else it holds the data directory (:meth:`node.datadir.DataDir.lock`),
so a second ``banscan run`` on it refuses instead of serving the same key twice.
An address it cannot listen on (a port in use, a port below 1024, an address
this machine does not have) is a :class:`node.listening.ServeError` that says what to do.
"""

import asyncio
import gc
import signal
from collections.abc import Callable

import structlog
from aiohttp import web

from node import abuse, metrics
from node.app import create_app
from node.config import Config
from node.connections import ClientConnections, SlowClientLimits, connection_factory
from node.datadir import DataDir
from node.listening import listen_error
from node.logs import configure_logging
from node.problems import Handler
from protocol.keys import NodeKey

SHUTDOWN_GRACE_S = 30.0
log = structlog.get_logger("banscan.node")


class RequestsInFlight:
    """Counts the requests being handled, so shutdown can wait for them."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self._count += 1
        self._idle.clear()
        try:
            return await handler(request)
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    @property
    def count(self) -> int:
        return self._count

    async def idle(self) -> None:
        await self._idle.wait()


async def serve(data_dir: DataDir, host: str | None, port: int | None) -> None:
    config = data_dir.load_config()
    key = data_dir.load_key()
    lock = data_dir.lock()
    try:
        # A node killed with -9 left its URL behind; it is not serving any more.
        data_dir.url_file.unlink(missing_ok=True)
        await _serve(data_dir, config, key, host, port)
    finally:
        lock.release()


async def _serve(
    data_dir: DataDir, config: Config, key: NodeKey, host: str | None, port: int | None
) -> None:
    configure_logging(config.log.level, config.log.format)
    # Handlers go in before anything is announced, so a signal sent as soon as
    # the URL is printed still shuts down gracefully.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    app = create_app(config, key, data_dir.database)
    in_flight = RequestsInFlight()
    app.middlewares.insert(0, in_flight.middleware)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S)
    await runner.setup()
    # Everything loaded so far lives as long as the node: keep it out of the cyclic GC.
    gc.freeze()
    server: asyncio.Server | None = None
    try:
        assert runner.server is not None
        listen_host = host or config.node.host
        listen_port = config.node.port if port is None else port
        try:
            server = await loop.create_server(
                connections(app, runner.server, config),
                listen_host,
                listen_port,
                backlog=128,  # aiohttp's TCPSite default, kept
            )
        except OSError as exc:
            raise listen_error(listen_host, listen_port, exc) from exc
        bound_host, bound_port = server.sockets[0].getsockname()[:2]
        url = f"http://{_url_host(bound_host)}:{bound_port}"
        # Written before the line below, so whoever reads that line finds the file.
        data_dir.url_file.write_text(url + "\n", encoding="utf-8")
        # Scripts and tests read this line to learn the port when asked for port 0.
        print(f"banscan: serving {url} (node {key.text}, data in {data_dir.path})", flush=True)
        log.info("serving", url=url, network=config.network.id)
        await stop.wait()
        log.info("shutting down")
        server.close()
        # A request already parsed starts its handler a loop turn or two later.
        for _ in range(3):
            await asyncio.sleep(0)
        try:
            async with asyncio.timeout(SHUTDOWN_GRACE_S):
                await in_flight.idle()
        except TimeoutError:
            log.warning("requests still in flight after the grace period", count=in_flight.count)
    finally:
        data_dir.url_file.unlink(missing_ok=True)
        if server is not None:
            server.close()
        await runner.cleanup()
    log.info("stopped")


def connections(
    app: web.Application, server: web.Server, config: Config
) -> Callable[[], web.RequestHandler]:
    """Each connection under the slow-client limits of ``[http]`` (:mod:`node.connections`)."""
    http = config.http
    limits = SlowClientLimits(
        header_timeout_s=http.header_timeout_s,
        body_timeout_s=http.body_timeout_s,
        idle_timeout_s=http.idle_timeout_s,
        max_connections_per_client=None
        if config.submissions.trust_forwarded_for
        else http.max_connections_per_client,
    )
    clients = None
    if limits.max_connections_per_client is not None:
        clients = ClientConnections(
            limits.max_connections_per_client, app[abuse.REPORT_LIMITER].client_key
        )
    aborted = app[metrics.METRICS].aborted
    return connection_factory(server, limits, clients, lambda reason: aborted.labels(reason).inc())


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
