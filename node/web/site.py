"""What every public page shares: who runs the node, the layout's context, the answer.

The pages (home, map, lists, record pages, stats, the report form) extend
``base.html``, which shows the site's navigation, the language switch and, at the
foot, who runs the node and how to reach them (``[site]`` in banscan.toml, or
``[node]`` name and city). :func:`render` gathers that context; :func:`public_page`
answers an anonymous page through the node's read gate and answer cache
(:mod:`node.reads`), keyed by the page's URL and language, so a crowd of visitors
never starves writes, intake or federation and an HTTP cache in front can carry
them (``ETag``, ``Cache-Control``, ``Vary: Accept-Language``).

Pages show the ``public`` audience only, whatever cookie or header a visitor
sends: :data:`PUBLIC` is the only audience they ever pass to a query.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jinja2
from aiohttp import web

from node.config import DEMO_NETWORK, Config
from node.daily import utc_day as utc_day  # the pages read it from here
from node.problems import ApiError
from node.readcache import Answer
from node.reads import READS
from node.security import CSRF_FIELD
from node.state import STORE
from node.web.i18n import CATALOGS, N_, Catalog, catalog, format_count
from node.web.static import static_url
from node.web.templating import TEMPLATES
from protocol.errors import BanscanError

PUBLIC: Final = ("public",)

# (id, path, message id) of the site's navigation, in order.
NAVIGATION: Final = (
    ("home", "/", N_("nav.home")),
    ("map", "/map", N_("nav.map")),
    ("deployments", "/deployments", N_("nav.deployments")),
    ("incidents", "/incidents", N_("nav.incidents")),
    ("stats", "/stats", N_("nav.stats")),
    ("agencies", "/agencies", N_("nav.agencies")),
    ("policies", "/policies", N_("nav.policies")),
    ("requests", "/requests", N_("nav.requests")),
    ("act", "/act", N_("nav.act")),
    ("report", "/report", N_("nav.report")),
)


@dataclass(frozen=True)
class SiteInfo:
    """Who runs the node and what its pages say about it (``[site]``, else ``[node]``)."""

    name: str
    city: str
    contact: str
    about: Mapping[str, str]
    privacy: Mapping[str, str]
    actions: tuple[tuple[str, str], ...]  # (title, url)
    min_incidents_per_cell: int
    # On the dev network's id every record is demo data (``banscan dev-network``):
    # every page says so in a banner.
    demo: bool = False

    @classmethod
    def from_config(cls, config: Config) -> "SiteInfo":
        site = config.site
        return cls(
            name=site.name or config.node.name,
            city=site.city or config.node.city,
            contact=site.contact,
            about=dict(site.about),
            privacy=dict(site.privacy),
            actions=tuple((action.title, action.url) for action in site.actions),
            min_incidents_per_cell=site.min_incidents_per_cell,
            demo=config.network.id == DEMO_NETWORK,
        )

    def text(self, texts: Mapping[str, str], lang: str) -> str:
        """The text in ``lang``, else the first one given, else empty."""
        return texts.get(lang) or next(iter(texts.values()), "")

    @property
    def contact_href(self) -> str:
        """A link for the contact: mailto: for an e-mail address."""
        if "@" in self.contact and "://" not in self.contact:
            return f"mailto:{self.contact}"
        return self.contact


SITE: Final = web.AppKey("site", SiteInfo)


def render(
    request: web.Request,
    template: str,
    t: Catalog,
    *,
    switch_to: str | None,
    nav: str | None = None,
    failed: bool = False,
    **context: Any,
) -> str:
    """A whole page in ``t``'s language.

    ``switch_to`` is the URL (path and query, without ``lang``) to link in each other
    language; None on an answer to a form, which a switch would lose. ``nav`` is the
    id in :data:`NAVIGATION` of the page's section, marked as current."""
    env: jinja2.Environment = request.app[TEMPLATES]
    other_languages = [
        (lang, CATALOGS[lang].gettext("lang.name")) for lang in sorted(CATALOGS) if lang != t.lang
    ]
    return env.get_template(template).render(
        t=t,
        site=request.app[SITE],
        static_url=static_url,
        navigation=NAVIGATION,
        nav=nav,
        csrf_field=CSRF_FIELD,
        switch_to=switch_to,
        other_languages=other_languages,
        failed=failed,
        number=lambda count: format_count(count, t.lang),
        **context,
    )


def with_lang(path_qs: str, lang: str) -> str:
    """``path_qs`` with ``lang=`` added (a language switch's link)."""
    return f"{path_qs}{'&' if '?' in path_qs else '?'}lang={lang}"


def html(page: str, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        text=page, status=status, content_type="text/html", charset="utf-8", headers=headers
    )


PageHandler = Callable[[web.Request, Catalog], Awaitable[web.StreamResponse]]


def public_page(
    handler: PageHandler, *, daily: bool = False
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A route answering anonymous visitors from the read gate and the answer cache.

    The handler gets the request and its catalog; a 200 answer it builds is kept as
    bytes until the database changes, and revalidated with ``ETag``. Errors it raises
    become HTML pages (:func:`html_errors`)."""

    async def route(request: web.Request) -> web.StreamResponse:
        t = catalog(request)
        reads = request.app[READS]

        async def build(request: web.Request) -> web.StreamResponse:
            return await handler(request, t)

        key = f"{t.lang} {request.path_qs}"
        if daily:
            key = f"{utc_day(request.app[STORE].clock())} {key}"
        answer = await reads.answer(request, build, key=key)
        if isinstance(answer, Answer):
            return reads.respond(request, answer, vary="Accept-Language")
        return answer

    return route


def daily_page(handler: PageHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """:func:`public_page` for a page whose words change with the day (which records
    requests are overdue, which actions are open): its kept answer is keyed by the
    UTC day too, so a new day builds it again even when the database did not change."""
    return public_page(handler, daily=True)


# Errors on the pages, as pages.

# Paths answered with problem+json whatever the error; every other path is a page.
MACHINE_PREFIXES: Final = (
    "/api/",
    "/federation/",
    "/metrics",
    "/healthz",
    "/tiles/",
    "/basemap/",
)
# The topic of an error page by status: messages ``<topic>.title`` and ``<topic>.body``.
ERROR_TOPICS: Final = {status: f"error_page.{status}" for status in (400, 404, 405, 503)}
OTHER_ERROR: Final = "error_page.other"


def wants_page(request: web.Request) -> bool:
    """Whether an error here is answered as a page: on a page's path, or, on a path
    that names no route at all, for a browser (one that accepts HTML)."""
    path = request.path
    if path.startswith(MACHINE_PREFIXES) or path.startswith("/static/"):
        return False
    if request.match_info.route.resource is not None:
        return True
    return "text/html" in request.headers.get("Accept", "")


def error_page(request: web.Request, status: int, detail: str = "") -> web.Response:
    """An HTML page saying what went wrong, in the visitor's language."""
    t = catalog(request)
    topic = ERROR_TOPICS.get(status, OTHER_ERROR)
    page = render(
        request, "error.html", t, switch_to=None, topic=topic, status=status, detail=detail
    )
    return html(page, status, {"Cache-Control": "no-store"})


@web.middleware
async def html_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Errors on a page's path answered as a page; other paths keep problem+json.

    Runs inside :func:`node.problems.problem_middleware`, which answers what this
    lets through (and anything unexpected, as a 500 that says nothing inside)."""
    if not wants_page(request):
        return await handler(request)
    try:
        return await handler(request)
    except BanscanError as exc:
        detail = exc.public_detail if exc.public_detail is not None else exc.detail
        response = error_page(request, exc.status, detail)
        if isinstance(exc, ApiError):
            response.headers.update(exc.headers)
        if response.status == 408:
            response.force_close()
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_page(request, exc.status)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
