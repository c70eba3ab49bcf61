"""The page that says who runs the node and what it does with visitors' data.

GET /privacy    the operator's privacy text ([site] privacy), and what the node
                itself never does: no cookies but the report form's anti-forgery
                one, nothing loaded from another origin, no addresses stored
"""

from aiohttp import web

from node.web.i18n import Catalog
from node.web.site import SITE, html, public_page, render

routes = web.RouteTableDef()


@routes.get("/privacy")
@public_page
async def privacy(request: web.Request, t: Catalog) -> web.Response:
    site = request.app[SITE]
    return html(
        render(
            request,
            "privacy.html",
            t,
            switch_to="/privacy",
            operator_text=site.text(site.privacy, t.lang),
        )
    )
