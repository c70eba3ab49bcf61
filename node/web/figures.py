"""The numbers behind the figures page, counted without holding up the rest of the node.

Incidents per month and by category are read from the stats rollup
(:mod:`storage.rollup`), incidents by technology and cameras by status and by
city from the site's counts of public records (:mod:`storage.facets`): exact and
fast at any size (tens of milliseconds over a million cameras). A filter those
cannot answer (a date range within a month) is counted from the records, in one
pass per kind (a million cameras take a second) and on a connection of its own
(``RecordQueries.scan_counts``), so that the map, the lists and the API never
wait for it. Those counts are kept for
:data:`RECOUNT_AFTER_MS` per filter: a crowd on the page, or a stream of new
records, costs one count a minute, not one per visitor or per write. One count
runs at a time; while it runs, a filter counted before gets its kept numbers and
one never counted gets ``503`` with ``Retry-After`` (the node is busy), so
visitors asking for new filters cannot pile scans onto the node.
"""

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from node.reads import ReadsBusy
from node.web.filters import PageFilter
from storage import facets, rollup
from storage.filters import QueryKind
from storage.queries import RecordQueries

RECOUNT_AFTER_MS: Final = 60_000
KEPT_FILTERS: Final = 64

Groups = list[tuple[str | None, int]]


@dataclass(frozen=True)
class Counted:
    """What one pass over the records counted, and when."""

    technologies: Groups
    statuses: Groups
    cities: Groups
    counted_ms: int


@dataclass(frozen=True)
class Figures:
    months: Groups
    categories: Groups
    technologies: Groups
    statuses: Groups
    cities: Groups
    # When the last three were counted by a pass kept a minute; None when summed now.
    counted_ms: int | None


def _marginal(groups: Sequence[tuple[dict[str, str | None], int]], key: str) -> Groups:
    """Counts by ``key`` alone, summed over the other keys, in key order."""
    totals: dict[str | None, int] = {}
    for keys, count in groups:
        totals[keys[key]] = totals.get(keys[key], 0) + count
    return sorted(totals.items(), key=lambda item: (item[0] is not None, item[0] or ""))


class FigureCounter:
    """Counts the figures' groups; those only a pass over the records can count, one
    filter at a time, kept a minute."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._lock = asyncio.Lock()
        self._kept: OrderedDict[tuple[tuple[str, str], ...], Counted] = OrderedDict()

    @property
    def counting(self) -> bool:
        """Whether a pass over the records is under way."""
        return self._lock.locked()

    async def figures(self, queries: RecordQueries, page: PageFilter) -> Figures:
        months = await _rollup_groups(queries, page, "month")
        categories = await _rollup_groups(queries, page, "category")
        summed = _summed(page)
        if summed:
            counted = await _count(queries, page, self._clock)
        else:
            counted = await self._counted(queries, page)
        return Figures(
            months,
            categories,
            counted.technologies,
            counted.statuses,
            counted.cities,
            None if summed else counted.counted_ms,
        )

    async def _counted(self, queries: RecordQueries, page: PageFilter) -> Counted:
        key = tuple(sorted(page.values.items()))
        kept = self._kept.get(key)
        if kept is not None and self._clock() - kept.counted_ms < RECOUNT_AFTER_MS:
            return kept
        if self._lock.locked():
            if kept is not None:
                return kept
            raise ReadsBusy("the figures are being counted; try again in a few seconds")
        async with self._lock:
            counted = await _count(queries, page, self._clock)
        self._kept[key] = counted
        self._kept.move_to_end(key)
        while len(self._kept) > KEPT_FILTERS:
            self._kept.popitem(last=False)
        return counted


# The groups counted by a pass over the records unless stats_facets answers them.
_COUNTED: Final[tuple[tuple[QueryKind, tuple[str, ...]], ...]] = (
    ("incident", ("technology",)),
    ("deployment", ("status", "city")),
)


def _summed(page: PageFilter) -> bool:
    """Whether the site's counts (:mod:`storage.facets`) answer every counted group."""
    return all(
        facets.answerable(page.query(kind), keys)
        for kind, keys in _COUNTED
        if page.applies_to(kind)
    )


async def _count(queries: RecordQueries, page: PageFilter, clock: Callable[[], int]) -> Counted:
    technologies = await _scanned(queries, page, *_COUNTED[0])
    cameras = await _scanned(queries, page, *_COUNTED[1])
    return Counted(
        _marginal(technologies, "technology"),
        _marginal(cameras, "status"),
        _marginal(cameras, "city"),
        clock(),
    )


async def _rollup_groups(queries: RecordQueries, page: PageFilter, key: str) -> Groups:
    """Incidents per ``key``: from the rollup when it answers, else from the site's
    counts when they do (a city), else counted by the stats' scan."""
    if not page.applies_to("incident"):
        return []
    query = page.query("incident")
    if not rollup.answerable(query, [key]) and facets.answerable(query, [key]):
        counted = await queries.counts(query, [key])
        return _marginal([({key: _text(v[key])}, n) for v, n in counted], key)
    result = await queries.stats(query, [key])
    return [(_text(group.keys[key]), group.count) for group in result.groups]


async def _scanned(
    queries: RecordQueries, page: PageFilter, kind: QueryKind, keys: Sequence[str]
) -> list[tuple[dict[str, str | None], int]]:
    if not page.applies_to(kind):
        return []
    groups = await queries.counts(page.query(kind), keys)
    return [({k: _text(values[k]) for k in keys}, count) for values, count in groups]


def _text(value: str | bytes | None) -> str | None:
    return value.hex() if isinstance(value, bytes) else value


FIGURES: Final = web.AppKey("figures", FigureCounter)
