"""The draft as the public site will show it: the site's own record markup and stylesheet.

The review page frames ``/r/{id}/public``, which renders the draft last
previewed with the macro the node's record page renders
(``node/web/templates/recordfields.html``) and the site's stylesheet, both
read from the installed package by this desk (``/site/site.css``): nothing
is fetched from the node, and what the moderator sees is what visitors will
see. The draft is the one the review page or its live preview last checked
(:attr:`node.desk.state.Desk.previewed`), kept in this process's memory only.
This page alone may be framed, and only by the desk itself
(:data:`node.desk.guard.FRAMED`); it runs no script.
"""

import time
from importlib import resources
from pathlib import Path
from typing import Final

import jinja2
from aiohttp import web

from node.desk.guard import FRAMED
from node.desk.review import ID
from node.desk.state import DESK, catalog
from node.web.recordview import coordinate, utc_time
from node.web.templating import environment as site_environment
from protocol.errors import ProtocolError
from protocol.kinds import validate_body

routes = web.RouteTableDef()
SITE_CSS: Final = Path(str(resources.files("node.web") / "static" / "site.css"))
SITE_TEMPLATES: Final = web.AppKey("desk_site_templates", jinja2.Environment)


def site_templates() -> jinja2.Environment:
    """The public site's template environment, with the desk's framed page found first."""
    return site_environment(jinja2.PackageLoader("node.desk", "templates"))


@routes.get(f"/r/{ID}/public")
async def public_view(request: web.Request) -> web.Response:
    request[FRAMED] = True
    kind, body, audience = request.app[DESK].previewed.get(
        request.match_info["submission_id"], ("", None, "")
    )
    model = None
    if body is not None:
        try:
            model = validate_body(kind, body)
        except ProtocolError:
            model = None
    t = catalog(request)
    text = (
        request.app[SITE_TEMPLATES]
        .get_template("sitepreview.html")
        .render(
            t=t,
            kind=kind,
            body=model,
            audience=audience,
            created_ms=int(time.time() * 1000),
            coordinate=coordinate,
            utc_time=utc_time,
        )
    )
    return web.Response(text=text, content_type="text/html", charset="utf-8")


@routes.get("/site/site.css")
async def site_css(request: web.Request) -> web.FileResponse:
    """The public site's stylesheet, as installed with this desk."""
    return web.FileResponse(SITE_CSS)
