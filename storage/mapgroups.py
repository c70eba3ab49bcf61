"""The map's incident groups: per filter, computed once per database version, kept a while.

The map shows incidents only as groups per area cell that never hold fewer than
the minimum (:mod:`storage.areacells`). :class:`IncidentGroups` counts the
incidents a filter selects per area cell (from the ``map_areas`` rollup of
:mod:`storage.mapareas` when it answers the filter, else from the records),
groups them, and keeps the groups of the most recent filters: a tile or a view
drawn from them does not count again until the database changed, and, asked
with a lag (the map's tiles), not before the node's ``[site] map_max_age_s``,
refreshing them in the background meanwhile.
"""

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from storage.areacells import AreaCells, suppress
from storage.database import Database
from storage.filters import QueryFilter, where_clause
from storage.mapareas import answerable, counts_sql
from storage.sql import statement

_CACHED_CELLS: Final = 32


@dataclass
class _KeptCells:
    """Incident groups being or done computing, at a version, and when that was current."""

    cells: "asyncio.Future[AreaCells]"
    version: int
    as_of_ms: int


class IncidentGroups:
    """The incident groups' reads and the groups kept, on the reader connection."""

    def __init__(self, db: Database, clock: Callable[[], int], max_age_ms: int = 0) -> None:
        self._db = db
        self.clock = clock
        # How old the incident groups may be when asked with ``lag`` (the node's
        # ``[site] map_max_age_s``; 0: recomputed whenever the database changed).
        self.max_age_ms = max_age_ms
        self._cells: OrderedDict[tuple[QueryFilter, int], _KeptCells] = OrderedDict()
        self._refreshing: dict[tuple[QueryFilter, int], asyncio.Future[None]] = {}

    async def version(self) -> int:
        """SQLite's ``data_version``: changes whenever any connection commits."""
        async with self._db.reader.execute("PRAGMA data_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def area_cells(self, query: QueryFilter, minimum: int) -> AreaCells:
        """The shown groups of the incidents ``query`` selects, at the current version."""
        cells, _, _ = await self.area_cells_as_of(query, minimum, lag=False)
        return cells

    async def area_cells_as_of(
        self, query: QueryFilter, minimum: int, *, lag: bool = True
    ) -> tuple[AreaCells, int, int]:
        """The shown groups, the clock's time (ms) they were last known current at, and
        the database version they show.

        With ``lag``, groups read less than :attr:`max_age_ms` ago are answered
        whatever was written since (the map's tiles, whose answers may be that old
        anyway); else, and when older, groups are recomputed when the database's
        version changed. One computation per filter at a time: others wait for it."""
        key = (query, minimum)
        kept = self._cells.get(key)
        if kept is not None:
            self._cells.move_to_end(key)
            age = self.clock() - kept.as_of_ms
            if lag and age < self.max_age_ms:
                if age >= self._refresh_after_ms() and kept.cells.done():
                    self._refresh(key, kept)
                return await self._kept(key, kept)
        now = self.clock()
        version = await self.version()
        kept = self._cells.get(key)
        if kept is not None and kept.version == version:
            kept.as_of_ms = max(kept.as_of_ms, now)  # unchanged since: current as of now
            return await self._kept(key, kept)
        kept = _KeptCells(asyncio.ensure_future(self._area_cells(query, minimum)), version, now)
        self._cells[key] = kept
        while len(self._cells) > _CACHED_CELLS:
            self._cells.popitem(last=False)
        return await self._kept(key, kept)

    async def warm(self, query: QueryFilter, minimum: int) -> AreaCells:
        """Compute and keep the groups of ``query`` ahead of any reader (as a node starts),
        kept as known current only at the version they show: a read with ``lag`` after a
        write recomputes them, as it would with nothing kept, so a node just started never
        shows incidents as they were before a write for up to the bound."""
        version = await self.version()
        key = (query, minimum)
        if key in self._cells:
            cells, _, _ = await self._kept(key, self._cells[key])
            return cells
        computing = asyncio.ensure_future(self._area_cells(query, minimum))
        kept = _KeptCells(computing, version, self.clock() - self.max_age_ms)
        self._cells[key] = kept
        cells, _, _ = await self._kept(key, kept)
        return cells

    def _refresh_after_ms(self) -> int:
        """How old kept groups are read again: a quarter of :attr:`max_age_ms`, but not
        sooner than a second (nor later than half of it). A tile drawn from groups is
        dated by them, so older groups would make every tile drawn from them due sooner."""
        return max(self.max_age_ms // 4, min(self.max_age_ms // 2, 1000))

    def _refresh(self, key: tuple[QueryFilter, int], kept: "_KeptCells") -> None:
        """Past :meth:`_refresh_after_ms`, groups are read again in the background and
        replace the kept ones when done, so tiles drawn meanwhile are not all as old (and
        due) at once."""
        if key in self._refreshing:
            return

        async def refresh() -> None:
            now = self.clock()
            try:
                version = await self.version()
                if version == kept.version:
                    kept.as_of_ms = max(kept.as_of_ms, now)
                    return
                cells = await self._area_cells(*key)
            except Exception:  # the kept groups expire instead; the next reader recomputes
                return
            done = asyncio.get_running_loop().create_future()
            done.set_result(cells)
            if self._cells.get(key) is kept:
                self._cells[key] = _KeptCells(done, version, now)

        task = asyncio.ensure_future(refresh())
        self._refreshing[key] = task
        task.add_done_callback(lambda _: self._refreshing.pop(key, None))

    async def close(self) -> None:
        """Stop the background refreshes (before the database closes)."""
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _kept(
        self, key: tuple[QueryFilter, int], kept: "_KeptCells"
    ) -> tuple[AreaCells, int, int]:
        as_of = kept.as_of_ms  # before waiting: a confirmation meanwhile is not this copy's
        try:
            return await asyncio.shield(kept.cells), as_of, kept.version
        except BaseException:
            if kept.cells.done() and self._cells.get(key) is kept:
                del self._cells[key]  # a failed computation is not kept
            raise

    async def _area_cells(self, query: QueryFilter, minimum: int) -> AreaCells:
        return suppress(await self.area_counts(query), minimum)

    async def area_counts(self, query: QueryFilter, *, rollup: bool = True) -> dict[str, int]:
        """Current incidents per area cell, as stored: never shown as they are. From the
        ``map_areas`` rollup when it answers the query; ``rollup=False`` counts the records."""
        if rollup and answerable(query):
            sql, params = counts_sql(query)
        else:
            where, params = where_clause(query, kind_index=False)
            # The literal kind lets SQLite use records_map_areas (migration 9).
            sql = statement(
                "SELECT r.area, COUNT(*) FROM records r WHERE r.kind = 'incident' "
                "AND r.area IS NOT NULL AND {where} GROUP BY r.area",
                where=where,
            )
        rows = await self._db.reader.execute_fetchall(sql, params)
        return dict(rows)  # type: ignore[arg-type]
