"""Reads for the campaign pages: agencies, policies, records requests and actions.

The public site's pages about pressing authorities (``/agencies``, ``/policies``,
``/requests``, ``/act``) read the campaign kinds through this module, over the
query columns :mod:`storage.columns` fills at insert (docs/records.md):

| kind | country, region, city | category | agency | status | occurred_on | due_on |
|---|---|---|---|---|---|---|
| agency | jurisdiction | type | its name | | | |
| policy | jurisdiction | instrument | agency name | status | latest date | |
| records_request | the law's code | law | agency name | status | filed_on | due_on |
| action | jurisdiction | type | target name | | opens_on | closes_on |

``agency_ref`` is the agency record a record points at (``agency.record``, an
action's ``target.record``; an agency's parent), on every kind that has one.

Only current records of the given audiences are visible (not superseded,
retracted or erased). A page of rows decodes at most its own bodies; counts
and groups read columns only. ``today`` is an ISO date the caller takes from
its clock: a request is *overdue* when its ``due_on`` is before it and its
status is not one that answers it; an action is *open* when ``today`` is
between its ``opens_on`` and ``closes_on`` (either may be missing).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from protocol.campaign import ANSWERED_STATUSES
from storage.database import Database
from storage.sql import expand_in, statement

_COLUMNS: Final = (
    "r.rid, r.id, r.kind, r.created_ms, b.body, r.country, r.region, r.city, r.category,"
    " r.agency, r.status, r.occurred_on, r.due_on, r.agency_ref"
)
_ANSWERED: Final = tuple(sorted(ANSWERED_STATUSES))
READ_KINDS: Final = frozenset(
    {"agency", "policy", "records_request", "action", "deployment", "incident"}
)
# Version chains are followed at most this deep (a bound against a hostile chain).
MAX_VERSIONS: Final = 50


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """One current record and its query columns."""

    rid: int
    id: bytes
    kind: str
    created_ms: int
    body: bytes
    country: str | None
    region: str | None
    city: str | None
    category: str | None
    agency: str | None
    status: str | None
    occurred_on: str | None
    due_on: str | None
    agency_ref: bytes | None


@dataclass
class AgencyCounts:
    """What refers to one agency (any of its versions)."""

    deployments: int = 0
    incidents: int = 0
    policies: int = 0
    requests: int = 0
    overdue: int = 0
    open_actions: int = 0


@dataclass
class Condition:
    """A condition over ``records r`` built here: clauses joined with AND, their values."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def equal(self, column: str, value: str | None, *, nocase: bool = False) -> "Condition":
        if value:
            self.clauses.append(f"{column}{' COLLATE NOCASE' if nocase else ''} = ?")
            self.params.append(value)
        return self

    def within(self, column: str, values: Sequence[Any]) -> "Condition":
        if values:
            marks, listed = expand_in(values)
            self.clauses.append(f"{column} IN {marks}")
            self.params.extend(listed)
        return self

    def add(self, clause: str, params: Sequence[Any] = ()) -> "Condition":
        self.clauses.append(clause)
        self.params.extend(params)
        return self


def overdue_sql(today: str) -> tuple[str, list[Any]]:
    """The SQL truth of "overdue on ``today``" for a records request row ``r``."""
    marks, answered = expand_in(_ANSWERED)
    return f"(r.due_on < ? AND r.status NOT IN {marks})", [today, *answered]


def answered_sql() -> tuple[str, list[Any]]:
    """The SQL truth of "answered" for a records request row ``r``."""
    marks, answered = expand_in(_ANSWERED)
    return f"(r.status IN {marks})", answered


def open_sql(today: str) -> tuple[str, list[Any]]:
    """The SQL truth of "open on ``today``" for an action row ``r``."""
    return "(COALESCE(r.occurred_on, ?) <= ? AND COALESCE(r.due_on, ?) >= ?)", [today] * 4


class CampaignReads:
    """The campaign pages' reads, over records of ``audiences`` only."""

    def __init__(self, db: Database, audiences: Sequence[str]) -> None:
        self._db = db
        self._audiences = tuple(audiences)

    def _where(self, kinds: Sequence[str], condition: Condition) -> tuple[str, list[Any]]:
        # The kinds as literals, so SQLite may use the partial indexes of one kind
        # (storage.campaignindexes); only the known names ever reach the SQL.
        unknown = set(kinds) - READ_KINDS
        if unknown:
            raise ValueError(f"not a kind these reads know: {sorted(unknown)}")
        audience_marks, audiences = expand_in(self._audiences)
        names = [f"'{kind}'" for kind in sorted(kinds)]
        clauses = [
            f"r.kind = {names[0]}" if len(names) == 1 else f"r.kind IN ({', '.join(names)})",
            f"r.audience IN {audience_marks}",
            "r.superseded_by IS NULL",
            "r.retracted_by IS NULL",
            "r.erased_ms IS NULL",
            *condition.clauses,
        ]
        return " AND ".join(clauses), [*audiences, *condition.params]

    async def _all(self, sql: str, values: Sequence[Any]) -> list[Any]:
        """Every row of ``sql``, in one hand-over to the reader's thread: iterating a
        cursor costs one for the statement, one per chunk of rows and one to close it,
        each a wait for that thread (and, on a busy machine, for a CPU)."""
        return list(await self._db.reader.execute_fetchall(sql, values))

    async def rows(
        self,
        kind: str,
        condition: Condition,
        order: str,
        limit: int,
        offset: int = 0,
        order_params: Sequence[Any] = (),
        index: str | None = None,
    ) -> list[CampaignRow]:
        """Up to ``limit`` rows of ``kind`` after ``offset`` in ``order`` (constant SQL
        text made by the caller; its values are ``order_params``), through ``index``
        when given (one SQLite would not pick without statistics)."""
        where, params = self._where((kind,), condition)
        sql = statement(
            "SELECT {columns} FROM "
            "(SELECT r.rid FROM records r{indexed} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?)"
            " p JOIN records r ON r.rid = p.rid JOIN bodies b ON b.rid = r.rid ORDER BY {order}",
            columns=_COLUMNS,
            indexed=f" INDEXED BY {index}" if index else "",
            where=where,
            order=order,
        )
        values = [*params, *order_params, limit, offset, *order_params]
        return [CampaignRow(*row) for row in await self._all(sql, values)]

    async def count(self, kind: str, condition: Condition, cap: int) -> int:
        """How many rows of ``kind`` match, counted up to ``cap``."""
        where, params = self._where((kind,), condition)
        sql = statement(
            "SELECT COUNT(*) FROM (SELECT 1 FROM records r WHERE {where} LIMIT ?)", where=where
        )
        rows = await self._all(sql, (*params, cap))
        return int(rows[0][0]) if rows else 0

    async def groups(
        self,
        kind: str,
        condition: Condition,
        keys: Sequence[str],
        extra: str = "",
        extra_params: Sequence[Any] = (),
        index: str | None = None,
    ) -> list[tuple[Any, ...]]:
        """Per group of ``keys`` (constant column expressions): the keys, the count and
        ``extra`` (a constant aggregate expression with ``extra_params``) when given;
        through ``index`` when given."""
        where, params = self._where((kind,), condition)
        columns = ", ".join(keys)
        sql = statement(
            "SELECT {columns}, COUNT(*){extra} FROM records r{indexed} WHERE {where}"
            " GROUP BY {columns}",
            columns=columns,
            extra=f", {extra}" if extra else "",
            indexed=f" INDEXED BY {index}" if index else "",
            where=where,
        )
        return [tuple(row) for row in await self._all(sql, (*extra_params, *params))]

    async def agency_counts(self, refs: Sequence[bytes], today: str) -> dict[bytes, AgencyCounts]:
        """For each agency id of ``refs``: what refers to it (one indexed read)."""
        if not refs:
            return {}
        overdue, overdue_params = overdue_sql(today)
        opened, open_params = open_sql(today)
        kinds = ("deployment", "incident", "policy", "records_request", "action")
        where, params = self._where(kinds, Condition().within("r.agency_ref", refs))
        sql = statement(
            "SELECT r.agency_ref, r.kind, COUNT(*),"
            " SUM(CASE WHEN r.kind = 'records_request' AND {overdue} THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN r.kind = 'action' AND {opened} THEN 1 ELSE 0 END)"
            " FROM records r WHERE {where} GROUP BY r.agency_ref, r.kind",
            overdue=overdue,
            opened=opened,
            where=where,
        )
        found: dict[bytes, AgencyCounts] = {}
        values = (*overdue_params, *open_params, *params)
        for ref, kind, number, late, opening in await self._all(sql, values):
            counts = found.setdefault(ref, AgencyCounts())
            if kind == "deployment":
                counts.deployments += number
            elif kind == "incident":
                counts.incidents += number
            elif kind == "policy":
                counts.policies += number
            elif kind == "records_request":
                counts.requests += number
                counts.overdue += late or 0
            else:
                counts.open_actions += opening or 0
        return found

    async def versions(self, record_ids: Sequence[bytes]) -> dict[bytes, list[bytes]]:
        """Each of ``record_ids`` with the ids of the versions it replaces, itself first
        (through the ``supersedes`` column), so what points at an older version of an
        agency still counts for it."""
        if not record_ids:
            return {}
        marks, ids = expand_in(record_ids)
        sql = statement(
            "WITH RECURSIVE v(root, id, depth) AS ("
            " SELECT id, id, 0 FROM records WHERE id IN {marks}"
            " UNION ALL SELECT v.root, r.supersedes, v.depth + 1 FROM v"
            " JOIN records r ON r.id = v.id WHERE r.supersedes IS NOT NULL AND v.depth < ?)"
            " SELECT root, id FROM v ORDER BY root, depth",
            marks=marks,
        )
        found: dict[bytes, list[bytes]] = {record_id: [] for record_id in record_ids}
        for root, record_id in await self._all(sql, (*ids, MAX_VERSIONS)):
            if record_id not in found[root]:
                found[root].append(record_id)
        return found

    async def points(
        self, condition: Condition, limit: int, index: str | None = None
    ) -> list[tuple[int, int, bytes, str, str | None]]:
        """Up to ``limit`` current deployments with a place, newest first: (lat_e7,
        lon_e7, id, status, frt), from columns only; through ``index`` when given."""
        where, params = self._where(("deployment",), condition)
        sql = statement(
            "SELECT r.lat_e7, r.lon_e7, r.id, r.status, r.frt FROM records r{indexed}"
            " WHERE {where} AND r.lat_e7 IS NOT NULL ORDER BY r.created_ms DESC, r.rid DESC"
            " LIMIT ?",
            indexed=f" INDEXED BY {index}" if index else "",
            where=where,
        )
        return [tuple(row) for row in await self._all(sql, (*params, limit))]

    async def places(
        self, kinds: Sequence[str], condition: Condition, limit: int
    ) -> list[tuple[str | None, str | None, str | None]]:
        """The distinct (country, region, city) of the current records of ``kinds``
        that ``condition`` selects, at most ``limit`` of them."""
        where, params = self._where(kinds, condition)
        sql = statement(
            "SELECT DISTINCT r.country, r.region, r.city FROM records r WHERE {where}"
            " ORDER BY r.country, r.region, r.city LIMIT ?",
            where=where,
        )
        return [(row[0], row[1], row[2]) for row in await self._all(sql, (*params, limit))]
