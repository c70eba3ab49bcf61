"""The desk's aiohttp application, and serving it on 127.0.0.1 until the moderator stops it.

:func:`create_desk_app` assembles the guard (:mod:`node.desk.guard`), the
page that shows the node's refusals, the routes and the desk's own static
files, read from the installed package (``node/desk/static/``): the node
serves none of the desk's code. :func:`serve_desk` binds a free port on
127.0.0.1, tells the guard which port it is (for the Host check), and yields
the URL with the secret.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Final

from aiohttp import web

from node.desk import decisions, queue, review, sitepreview
from node.desk.guard import Handler, guard_middleware
from node.desk.nodeapi import NodeError
from node.desk.state import DESK, TEMPLATES, Desk, environment, render

STATIC: Final = Path(str(resources.files("node.desk") / "static"))


@web.middleware
async def node_refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A refusal from the node, shown to the moderator with the node's own detail."""
    try:
        return await handler(request)
    except NodeError as exc:
        status = exc.status if 400 <= exc.status < 500 else 502
        return render(request, "outcome.html", ok=False, detail=exc.detail, http_status=status)


def create_desk_app(desk: Desk) -> web.Application:
    # No access log: a URL can hold a search over reports' text.
    app = web.Application(middlewares=[guard_middleware(desk.guard), node_refusals])
    app[DESK] = desk
    app[TEMPLATES] = environment()
    app.add_routes(queue.routes)
    app.add_routes(review.routes)
    app.add_routes(decisions.routes)
    app.add_routes(sitepreview.routes)
    app[sitepreview.SITE_TEMPLATES] = sitepreview.site_templates()
    app.router.add_static("/static/", STATIC, follow_symlinks=False)
    return app


@asynccontextmanager
async def serve_desk(desk: Desk, port: int = 0) -> AsyncIterator[str]:
    """Serve the desk on 127.0.0.1 (``port`` 0: a free one); yields the URL to open."""
    runner = web.AppRunner(create_desk_app(desk), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        desk.guard.port = int(runner.addresses[0][1])
        yield desk.guard.url()
    finally:
        await runner.cleanup()
