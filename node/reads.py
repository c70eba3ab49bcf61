"""Anonymous reads: admitted a few at a time, answered from encoded bytes, safe to cache.

A public site can send thousands of visitors to a node at once. Writes, report
intake and federation must keep going, so anonymous reads (``GET`` without an
``Authorization`` header) of the routes in :data:`GATED_ROUTES` go through a
:class:`ReadGate`: at most ``reads.anonymous_concurrency`` run at once, up to
``reads.anonymous_queue`` wait their turn, and beyond that a read is answered
``503`` problem+json with ``Retry-After``. Nothing else waits at that gate, so
a publisher, a report or a peer's sync session is never queued behind readers;
and while any such request (any method but ``GET`` and ``HEAD``) is handled, the
gate lets one anonymous read through at a time, so the event loop and the
database's threads serve the write first.

Answers to the routes in :data:`CACHED_ROUTES` are kept as the bytes sent
(:class:`node.readcache.AnswerCache`), labelled with SQLite's ``data_version``
of the reader connection, which changes whenever any connection (this node's
writer, ``banscan members`` in another process) commits. A read whose version
is unchanged is answered from those bytes; concurrent reads of one answer at
one version compute it once. When readers are already queued at the gate, an
answer younger than ``reads.max_age_s`` is served without asking the database:
exactly what the answer's ``Cache-Control: public, max-age`` lets any HTTP cache
do anyway. The map's tiles and GeoJSON (``lag``) go further, because every
write would otherwise make every tile stale: an answer whose data is younger
than their own bound, ``[site] map_max_age_s`` (also their ``max-age``), is
served straight from memory, without the gate or the database, whatever was
written since; an older one is revalidated by version and recomputed once per
key at a time, so a stream of writes costs one computation per tile per
``map_max_age_s``. An answer built partly from older data (the incident groups,
:mod:`storage.mapdata`) is dated by that data (:data:`AS_OF`), so nothing is
shown more than ``map_max_age_s`` after it changed.

Anonymous answers carry ``ETag`` and ``Last-Modified`` and are answered ``304``
to a matching conditional request; every answer of these routes carries ``Vary:
Authorization``, and an authenticated one ``Cache-Control: private, no-store``.

Large answers are encoded off the event loop (:func:`json_answer`), so one page
of 500 records does not hold up every other connection while it is encoded.
"""

import asyncio
import json
import zlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from node.daily import daily_key
from node.problems import ApiError
from node.readcache import NO_VERSION, Answer, AnswerCache, not_modified
from node.state import STORE

# Routes whose anonymous answers are cached and validated (``resource.canonical``).
CACHED_ROUTES = frozenset(
    {
        "/api/v1/records",
        "/api/v1/records/{id}",
        "/api/v1/incidents",
        "/api/v1/deployments",
        "/api/v1/stats",
        "/api/v1/coverage",
        "/api/v1/agencies",
        "/api/v1/vendors",
        "/api/v1/policies",
        "/api/v1/requests",
        "/api/v1/actions",
        "/api/v1/actions/osdi",
    }
)
# Anonymous reads of these wait at the gate; exports stream and are not cached, nor
# are the campaign counts, which change with the day (overdue, open) without a write.
GATED_ROUTES = CACHED_ROUTES | {"/api/v1/export", "/api/v1/stats/campaign"}
# Answers with more records than this are encoded on a worker thread.
OFF_LOOP_RECORDS = 16
RETRY_AFTER_S = 1
# Headers a handler may set that are kept with its cached answer (a page's own policy).
KEPT_HEADERS = ("Content-Security-Policy", "Content-Disposition")
PRIVATE = "private, no-store"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ReadsBusy(ApiError):
    """Too many anonymous reads are waiting already; answered with ``Retry-After``."""

    status = 503
    code = "busy"

    def __init__(
        self, detail: str = "too many anonymous reads are waiting; try again shortly"
    ) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(RETRY_AFTER_S)


class ReadGate:
    """A concurrency limit with a bounded, first-come first-served queue.

    While a priority request (a write, a report, a federation call) is being
    handled, one anonymous read at a time is let through instead of
    ``concurrency``, so the event loop and the database's threads stay free for it.
    """

    def __init__(self, concurrency: int, queue: int) -> None:
        self._concurrency = concurrency
        self._queue = queue
        self._active = 0
        self._priority = 0
        self._waiting = 0  # the waiters not yet handed a turn nor cancelled
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """Reads waiting for a turn."""
        return self._waiting

    @property
    def busy(self) -> bool:
        return self.waiting > 0

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        if self._active < self._limit() and not self.busy:
            self._active += 1
        else:
            await self._wait()
        try:
            yield
        finally:
            self._active -= 1
            self._wake()

    @asynccontextmanager
    async def priority(self) -> AsyncIterator[None]:
        """Hold anonymous reads to one at a time while the block runs."""
        self._priority += 1
        try:
            yield
        finally:
            self._priority -= 1
            self._wake()

    def _limit(self) -> int:
        return min(1, self._concurrency) if self._priority else self._concurrency

    async def _wait(self) -> None:
        if self.waiting >= self._queue:
            raise ReadsBusy()
        turn = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        self._waiting += 1
        try:
            await turn
        except asyncio.CancelledError:
            if turn.cancelled():
                self._waiting -= 1
            else:
                self._active -= 1  # handed a turn as it was cancelled: pass it on
                self._wake()
            raise

    def _wake(self) -> None:
        while self._waiters and self._active < self._limit():
            turn = self._waiters.popleft()
            if not turn.done():
                self._active += 1
                self._waiting -= 1
                turn.set_result(None)


@dataclass
class Reads:
    """The gate and the cache of one node, with the freshness their answers promise."""

    gate: ReadGate
    cache: AnswerCache
    max_age_s: int
    clock: Callable[[], int]

    def __post_init__(self) -> None:
        self._inflight: dict[
            tuple[str, int | None], asyncio.Future[Answer | web.StreamResponse]
        ] = {}
        self._refreshing: dict[str, asyncio.Future[None]] = {}

    def fresh(self, answer: Answer, max_age_s: int | None = None) -> bool:
        """Whether ``answer`` shows data read less than ``max_age_s`` (by default the
        node's ``[reads] max_age_s``) ago."""
        age_s = self.max_age_s if max_age_s is None else max_age_s
        return self.clock() - answer.computed_ms < age_s * 1000

    async def answer(
        self, request: web.Request, handler: Handler, key: str | None = None, *, lag: int = -1
    ) -> Answer | web.StreamResponse:
        """The anonymous answer to a cached route, from bytes where they are current.

        ``key`` names the answer in the cache: the path and query unless the answer
        also depends on something else (a page's language). With ``lag`` seconds, 0
        or more (the map's tiles and GeoJSON: ``[site] map_max_age_s``), an answer is
        served as long as its data is younger than that, whatever was written since,
        without waiting at the gate nor asking the database; an older one is
        revalidated by version, and recomputed once per key at a time (every other
        request for that key waits for it)."""
        key = request.path_qs if key is None else key
        age_s = self.max_age_s if lag < 0 else lag
        if lag >= 0:
            cached = self.cache.get(key)
            if cached is not None and self.fresh(cached, age_s):
                if self._due(key, cached, age_s) and key not in self._refreshing:
                    self._refresh(request, handler, key, lag)
                return cached
            pending = self._inflight.get((key, None))
            if pending is not None:
                shared = await _shared(pending)
                if isinstance(shared, Answer) and self.fresh(shared, age_s):
                    return shared
        async with self.gate.admitted():
            cached = self.cache.get(key)
            if cached is not None and (lag >= 0 or self.gate.busy) and self.fresh(cached, age_s):
                return cached
            now = self.clock()
            version = await data_version(request)
            cached = self.cache.get(key)
            if cached is not None and cached.version == version:
                return self.cache.confirm(key, cached, now) if lag >= 0 else cached
            return await self._computed_once(request, handler, key, version, lag)

    def _due(self, key: str, answer: Answer, max_age_s: int) -> bool:
        """Whether a lagging answer is old enough to refresh: past a point from half to
        three quarters of ``max_age_s``, fixed per key, so tiles computed together (a
        map's first visitors) are not all refreshed at once, and each refresh has a
        quarter of the bound or more to finish before its copy expires."""
        spread = zlib.crc32(key.encode()) % 1024  # 0..1023: where in that quarter
        return 4096 * (self.clock() - answer.computed_ms) >= (2048 + spread) * max_age_s * 1000

    def _refresh(self, request: web.Request, handler: Handler, key: str, lag: int) -> None:
        """Recompute a lagging answer in the background while its copy is still served
        (stale-while-revalidate within ``max_age_s``), through the gate like any read,
        so a crowd on a map is answered from memory and never waits for a tile."""

        async def refresh() -> None:
            try:
                async with self.gate.admitted():
                    now = self.clock()
                    version = await data_version(request)
                    cached = self.cache.get(key)
                    if cached is not None and cached.version == version:
                        self.cache.confirm(key, cached, now)
                    else:
                        await self._computed_once(request, handler, key, version, lag)
            except Exception:  # a failed refresh leaves the copy to expire
                return

        task = asyncio.ensure_future(refresh())
        self._refreshing[key] = task
        task.add_done_callback(lambda _: self._refreshing.pop(key, None))

    async def close(self) -> None:
        """Stop the background refreshes (the app's cleanup, before the store closes)."""
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _computed_once(
        self, request: web.Request, handler: Handler, key: str, version: int, lag: int
    ) -> Answer | web.StreamResponse:
        """One computation per key and version (per key alone with ``lag``) at a time."""
        flight = (key, None if lag >= 0 else version)
        pending = self._inflight.get(flight)
        if pending is not None:
            shared = await _shared(pending)
            # A response object answers one request only: an uncached one is not shared.
            if isinstance(shared, Answer) and (lag < 0 or self.fresh(shared, lag)):
                return shared
            return await self._compute(request, handler, key, version)
        result: asyncio.Future[Answer | web.StreamResponse]
        result = asyncio.get_running_loop().create_future()
        self._inflight[flight] = result
        try:
            answer = await self._compute(request, handler, key, version)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                result.cancel()
            else:
                result.set_exception(exc)
                result.exception()  # retrieved here, so an unshared failure is not logged
            raise
        finally:
            del self._inflight[flight]
        result.set_result(answer)
        return answer

    async def _compute(
        self, request: web.Request, handler: Handler, key: str, version: int
    ) -> Answer | web.StreamResponse:
        started = self.clock()
        response = await handler(request)
        if response.status != 200 or not isinstance(response, web.Response):
            return response
        body = response.body
        if not isinstance(body, bytes):
            return response
        content_type = response.headers.get("Content-Type", "application/json")
        kept = tuple(
            (name, response.headers[name]) for name in KEPT_HEADERS if name in response.headers
        )
        as_of = started
        part = request.get(AS_OF)
        if part is not None and part[1] != version:  # part of it shows older data
            as_of, version = min(part[0], started), NO_VERSION
        return self.cache.put(key, body, content_type, version, as_of, kept)

    def respond(
        self, request: web.Request, answer: Answer, vary: str = "Authorization", lag: int = -1
    ) -> web.Response:
        age_s = self.max_age_s if lag < 0 else lag  # a lagging route's own bound
        headers = {
            "ETag": answer.etag,
            "Last-Modified": answer.last_modified(),
            "Cache-Control": f"public, max-age={age_s}",
            "Vary": vary,
        }
        if not_modified(request, answer):
            # The answer's own headers too: a browser replaces its stored copy's headers
            # with a 304's, and a page's policy (the map's scripts) must survive that.
            return web.Response(status=304, headers={**headers, **dict(answer.headers)})
        return web.Response(
            body=answer.body,
            headers={**headers, **dict(answer.headers), "Content-Type": answer.content_type},
        )


READS = web.AppKey("reads", Reads)
# What a handler sets on its request when part of its answer may show data read
# earlier than the answer's computation began (the map's incident groups): the
# clock's time that part was known current at, and the database version it shows.
# When that version is not the answer's, the answer is served at most ``max_age_s``
# past that time, and never taken as current by version.
AS_OF: Final = web.RequestKey("as_of", tuple[int, int])


async def _shared(pending: asyncio.Future[Answer | web.StreamResponse]) -> Answer | None:
    """What another request's computation answered, or None if it failed or was cancelled."""
    try:
        shared = await asyncio.shield(pending)
    except asyncio.CancelledError:
        if not pending.cancelled():
            raise
        return None
    except Exception:
        return None
    return shared if isinstance(shared, Answer) else None


async def data_version(request: web.Request) -> int:
    """SQLite's count of commits by other connections, as the reader connection sees it."""
    async with request.app[STORE].db.reader.execute("PRAGMA data_version") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


@web.middleware
async def read_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else ""
    reads = request.app[READS]
    if request.method not in ("GET", "HEAD"):
        async with reads.gate.priority():
            return await handler(request)
    if route not in GATED_ROUTES:
        return await handler(request)
    if "Authorization" in request.headers:
        response = await handler(request)
        if not response.prepared:  # a streamed export sets its own
            response.headers["Cache-Control"] = PRIVATE
            response.headers["Vary"] = "Authorization"
        return response
    if route not in CACHED_ROUTES:
        async with reads.gate.admitted():
            return await handler(request)
    answer = await reads.answer(request, handler, daily_key(route, request.path_qs, reads.clock()))
    if isinstance(answer, Answer):
        return reads.respond(request, answer)
    return answer


async def json_answer(build: Callable[[], Any], records: int) -> web.Response:
    """``web.json_response(build())``, built and encoded on a worker thread when large."""
    if records <= OFF_LOOP_RECORDS:
        text = json.dumps(build())
    else:
        text = await asyncio.to_thread(lambda: json.dumps(build()))
    return web.Response(text=text, content_type="application/json")
