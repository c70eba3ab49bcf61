"""The home page: who the chapter is, what it has documented, what a visitor can do.

    GET /    the chapter's name, city and about text ([site]); the headline numbers
             (cameras mapped, incidents documented, chapters in the network, last
             update); a small map (the map page's drawing); the "Report an incident or a camera"
             button; the campaign's actions ([site] actions); the chapters of the
             network; on a node with nothing public yet, what its operator does next

The numbers come from the stats rollup (:mod:`storage.rollup`: a total is a sum
over its few rows, never a scan of records) and the newest row of an index; the
chapters from their ``node`` and ``membership`` records (:mod:`node.web.chapters`).
The page is answered through the read gate and answer cache, so a crowd costs
one computation per database change.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import jinja2
from aiohttp import web
from markupsafe import Markup

from node.problems import BadParameter
from node.state import CONFIG, NODE_KEY, STORE
from node.web.chapters import Chapter, network_chapters
from node.web.i18n import Catalog
from node.web.map import map_context, map_state
from node.web.site import PUBLIC, SITE, html, public_page, render
from node.web.templating import TEMPLATES
from protocol.utc import utc_text
from storage.filters import QueryFilter, QueryKind
from storage.queries import RecordQueries

routes = web.RouteTableDef()


@dataclass(frozen=True)
class Headline:
    """The numbers at the top of the home page, over ``public`` records."""

    cameras: int
    incidents: int
    chapters: int
    last_update_ms: int | None  # the newest current incident or deployment

    @property
    def empty(self) -> bool:
        return self.cameras == 0 and self.incidents == 0


@dataclass(frozen=True)
class NextSteps:
    """What the operator of a node with nothing public has left to do."""

    describe: bool  # [site] name and about are not set
    publish: bool  # no public incident or deployment yet
    moderators: bool  # no moderator key: the report form is closed


async def _count(queries: RecordQueries, kind: QueryKind) -> int:
    return (await queries.stats(QueryFilter(kind=kind, audiences=PUBLIC), [])).total.count


async def _newest_ms(queries: RecordQueries, kind: QueryKind) -> int | None:
    rows = await queries.page(QueryFilter(kind=kind, audiences=PUBLIC), ("created", True), None, 1)
    return rows[0].created_ms if rows else None


async def headline(queries: RecordQueries, chapters: list[Chapter]) -> Headline:
    newest = [await _newest_ms(queries, kind) for kind in ("deployment", "incident")]
    return Headline(
        cameras=await _count(queries, "deployment"),
        incidents=await _count(queries, "incident"),
        chapters=len(chapters),
        last_update_ms=max((ms for ms in newest if ms is not None), default=None),
    )


class SmallMap:
    """The map page's own drawing of its default view (where the node's data is), for
    the home page: no script, its points and cells link into the map.

    Drawing it reads as much as the map page does (clusters, cells, the extent),
    and writing out its SVG was half of what remained of the page, so the SVG is
    kept, as markup, :data:`REDRAW_AFTER_MS` per language: new records cost the
    home page a new count, not a new map, and the small map may lag the map by
    that much. One drawing per language at a time; others wait for it."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._kept: dict[str, tuple[int, asyncio.Future[Markup]]] = {}

    async def drawn(self, request: web.Request, t: Catalog) -> Markup:
        kept = self._kept.get(t.lang)
        if kept is None or self._clock() - kept[0] >= REDRAW_AFTER_MS:
            kept = (self._clock(), asyncio.ensure_future(self._draw(request, t)))
            self._kept[t.lang] = kept
        try:
            return await asyncio.shield(kept[1])
        except BaseException:
            if kept[1].done() and self._kept.get(t.lang) is kept:
                del self._kept[t.lang]  # a failed drawing is not kept
            raise

    async def _draw(self, request: web.Request, t: Catalog) -> Markup:
        context = map_context(request, t, await map_state(request, t, "/map"), "/map")
        env: jinja2.Environment = request.app[TEMPLATES]
        # The macro of an autoescaped template answers escaped markup.
        macros = env.get_template("map_svg.html").make_module({"t": t})
        svg = getattr(macros, "map_svg")(context["d"], context["summary"])  # noqa: B009
        assert isinstance(svg, Markup)
        return svg


REDRAW_AFTER_MS: Final = 60_000
SMALL_MAP: Final = web.AppKey("small_map", SmallMap)


@routes.get("/")
@public_page
async def home(request: web.Request, t: Catalog) -> web.Response:
    # Only ``lang``: other parameters would only make copies of the page in the cache.
    unknown = sorted(set(request.query) - {"lang"})
    if unknown:
        raise BadParameter(unknown[0][:40], "unknown parameter; this page takes lang")
    store = request.app[STORE]
    site = request.app[SITE]
    chapters = await network_chapters(
        store.queries,
        store.trust,
        request.app[NODE_KEY].public_key,
        site,
        request.app[CONFIG],
    )
    numbers = await headline(store.queries, chapters)
    steps = None
    if numbers.empty:
        steps = NextSteps(
            describe=not (site.name and site.about),
            publish=True,
            moderators=not await store.submissions.keys(),
        )
    last_update = utc_text(numbers.last_update_ms, "date") if numbers.last_update_ms else None
    small_map = None if numbers.empty else await request.app[SMALL_MAP].drawn(request, t)
    return html(
        render(
            request,
            "home.html",
            t,
            switch_to="/",
            nav="home",
            about=site.text(site.about, t.lang),
            numbers=numbers,
            last_update=last_update,
            chapters=chapters,
            steps=steps,
            small_map=small_map,
        )
    )
