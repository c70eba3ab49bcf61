"""``banscan run``: serve the node until SIGTERM or SIGINT, then shut down gracefully.

On a signal the server stops accepting connections, lets requests in flight
finish (their transactions commit or roll back whole), then closes the store.
"""

import asyncio
import signal

import structlog
from aiohttp import web

from node.app import create_app
from node.datadir import DataDir
from node.logs import configure_logging

SHUTDOWN_GRACE_S = 30.0
log = structlog.get_logger("banscan.node")


async def serve(data_dir: DataDir, host: str | None, port: int | None) -> None:
    config = data_dir.load_config()
    key = data_dir.load_key()
    configure_logging(config.log.level, config.log.format)
    app = create_app(config, key, data_dir.database)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S)
    await runner.setup()
    try:
        site = web.TCPSite(
            runner, host or config.node.host, config.node.port if port is None else port
        )
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        url = f"http://{_url_host(bound_host)}:{bound_port}"
        # Scripts and tests read this line to learn the port when asked for port 0.
        print(f"banscan: serving {url} (node {key.text}, data in {data_dir.path})", flush=True)
        data_dir.url_file.write_text(url + "\n", encoding="utf-8")
        log.info("serving", url=url, network=config.network.id)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("shutting down")
    finally:
        data_dir.url_file.unlink(missing_ok=True)
        await runner.cleanup()
    log.info("stopped")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
