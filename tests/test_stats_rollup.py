"""The stats rollup (storage.rollup) against the scan and against plain Python.

Records are ingested in stages (new records, then later versions and
retractions of earlier ones, then more of both), and after each stage every
filter and grouping is answered three ways: by ``stats`` (from the rollup
when it can), by ``scan_stats`` over the records, and by plain Python over
the generated records. The rollup tables, as ingest and the triggers keep
them, are also compared with the same tables built from scratch.
"""

import itertools
import random
import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from protocol.limits import DEFAULT_LIMITS
from protocol.records import verify_record
from storage import facets, rollup
from storage.filters import QueryFilter, QueryKind
from storage.stats import Stats, StatsGroup
from storage.store import Store
from tests.factories import NETWORK, STEWARD, admit, incident_body
from tests.map_migration import UNDO_MAP_GRID
from tests.querydata import CHAPTERS, Generated, Item, add_random, supersede_and_retract

ALL = ("public", "network", "coordinators")
AUDIENCE_SETS = (("public",), ALL, ("network", "coordinators"))
GROUPINGS: tuple[tuple[str, ...], ...] = (
    ("country", "category", "month"),
    ("month", "country", "category"),
    ("country",),
    ("category", "year"),
    ("origin", "month"),
    ("year",),
    (),
)
FILTERS: tuple[dict[str, Any], ...] = (
    {},
    {"countries": ("US", "GB")},
    {"categories": ("harassment", "wrongful_arrest")},
    {"origins": (CHAPTERS[1].public_key, CHAPTERS[3].public_key)},
    {"occurred_from": "2024-06-01"},
    {"occurred_to": "2025-02-28"},
    {"countries": ("FR",), "occurred_from": "2024-03-01", "occurred_to": "2025-04-30"},
    {"countries": ("ZZ",)},
    # The scan names records_current_place for these (storage.filters.scan_source).
    {"countries": ("US", "GB"), "categories": ("harassment", "wrongful_arrest")},
)
# Filters the rollup cannot answer: the scan must, with the same answers.
SCAN_FILTERS: tuple[dict[str, Any], ...] = (
    {"occurred_from": "2024-06-15"},
    {"occurred_to": "2025-02-27"},
    {"statuses": ("verified",)},
    # Scans through records_map_areas, records_current_city, records_current_country
    # (storage.filters.scan_source and where_clause).
    {"area_prefix": "gcpv"},
    {"area_prefix": "u3", "statuses": ("verified",)},
    {"cities": ("London", "Paris")},
    {"countries": ("GB",), "area_prefix": "gcp"},
)


def occurred(item: Item) -> str | None:
    field = "occurred_on" if item.kind == "incident" else "observed_on"
    value = item.body.get(field)
    return value["date"] if value else None


KEYS: dict[str, Callable[[Item], Any]] = {
    "country": lambda i: i.body["country"],
    "category": lambda i: i.body.get("category"),
    "origin": lambda i: i.origin.public_key,
    "month": lambda i: (occurred(i) or "")[:7] or None,
    "year": lambda i: (occurred(i) or "")[:4] or None,
}


def selected(item: Item, query: QueryFilter) -> bool:
    day = occurred(item)
    return (
        item.kind == query.kind
        and item.current
        and item.audience in query.audiences
        and (not query.countries or item.body["country"] in query.countries)
        and (not query.categories or item.body.get("category") in query.categories)
        and (not query.origins or item.origin.public_key in query.origins)
        and (not query.statuses or item.body["verification"]["status"] in query.statuses)
        and (not query.cities or item.body.get("city") in query.cities)
        and (query.area_prefix is None or item.body.get("area", "").startswith(query.area_prefix))
        and (query.occurred_from is None or (day is not None and day >= query.occurred_from))
        and (query.occurred_to is None or (day is not None and day <= query.occurred_to))
    )


def measures(items: Sequence[Item], keys: dict[str, Any]) -> StatsGroup:
    days = [d for i in items if (d := occurred(i)) is not None]
    return StatsGroup(
        keys,
        len(items),
        len({i.origin.public_key for i in items}),
        min(days, default=None),
        max(days, default=None),
    )


def expected(data: Generated, query: QueryFilter, keys: Sequence[str]) -> Stats:
    items = [i for i in data.items if selected(i, query)]
    groups: dict[tuple[Any, ...], list[Item]] = defaultdict(list)
    for item in items:
        groups[tuple(KEYS[k](item) for k in keys)].append(item)
    ordered = sorted(groups.items(), key=lambda g: [(v is not None, v) for v in g[0]])
    rows = [measures(m, dict(zip(keys, v, strict=True))) for v, m in ordered] if keys else []
    return Stats(rows, measures(items, {}))


@pytest.fixture
async def store(store: Store) -> Store:
    """The shared store, with the generated data's chapters admitted."""
    await admit(store, *(key.public_key for key in CHAPTERS))
    return store


async def ingest(store: Store, items: Sequence[Item]) -> None:
    await store.records.ingest(
        [verify_record(i.record, network_id=NETWORK, limits=DEFAULT_LIMITS) for i in items]
    )


def neighbours(data: Generated, rng: random.Random, count: int) -> list[Item]:
    """Incidents sharing a rollup row with an earlier one (other days of its month), so
    rows hold several records and taking one out must recompute their first and last."""
    new = []
    for old in rng.sample([i for i in data.items if i.kind == "incident" and i.current], count):
        day = f"{occurred(old)[:8]}{rng.randrange(1, 29):02d}"  # type: ignore[index]
        body = dict(old.body, occurred_on={"date": day, "precision": "day"})
        new.append(data.add(old.origin, "incident", old.audience, body, old.created_ms + 3))
    return new


async def stages(store: Store) -> AsyncIterator[Generated]:
    """The same data after each of three ingest stages."""
    data, rng = Generated(), random.Random(11)
    first = add_random(data, rng, 220)
    await ingest(store, [*first, *neighbours(data, rng, 80), *neighbours(data, rng, 80)])
    yield data
    await ingest(store, supersede_and_retract(data, rng, 40))
    yield data
    # Later versions of later versions, and retractions arriving before their targets.
    fresh = add_random(data, rng, 60)
    changes = supersede_and_retract(data, rng, 20)
    await ingest(store, [*changes[20:], *fresh, *changes[:20]])
    yield data


def table(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return sorted(conn.execute(sql).fetchall(), key=repr)


ROLLUP_FROM_SCRATCH = """
    SELECT kind, COALESCE(country, ''), COALESCE(category, ''),
        COALESCE(substr(occurred_on, 1, 7), ''), origin, audience,
        COUNT(*), MIN(occurred_on), MAX(occurred_on)
    FROM records WHERE kind IN ('incident', 'deployment') AND superseded_by IS NULL
        AND retracted_by IS NULL AND erased_ms IS NULL
    GROUP BY 1, 2, 3, 4, 5, 6
"""
CELLS_FROM_SCRATCH = """
    SELECT kind, v, COALESCE(country, ''), COALESCE(category, ''),
        COALESCE(substr(occurred_on, 1, 7), ''),
        COUNT(*), COUNT(DISTINCT origin), MIN(occurred_on), MAX(occurred_on)
    FROM records, (SELECT 'all' AS v UNION ALL SELECT 'public')
    WHERE kind IN ('incident', 'deployment') AND superseded_by IS NULL
        AND retracted_by IS NULL AND erased_ms IS NULL AND (v = 'all' OR audience = 'public')
    GROUP BY 1, 2, 3, 4, 5
"""

FACETS_FROM_SCRATCH = """
    SELECT kind, COALESCE(country, ''), COALESCE(city, ''), COALESCE(category, ''),
        COALESCE(technology, ''), COALESCE(status, ''), COALESCE(frt, ''),
        COALESCE(substr(occurred_on, 1, 7), ''), COUNT(*)
    FROM records WHERE kind IN ('incident', 'deployment') AND audience = 'public'
        AND superseded_by IS NULL AND retracted_by IS NULL AND erased_ms IS NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""
# Filters and groupings of the site's counts (storage.facets), each with its kind's columns.
FACET_FILTERS: tuple[dict[str, Any], ...] = (
    {},
    {"countries": ("US", "GB")},
    {"cities": ("Paris",)},
    {"cities": ("London", "Berlin"), "occurred_from": "2025-03-01"},
    {"statuses": ("verified", "confirmed", "corroborated")},
    {"technologies": ("live_frt",), "occurred_from": "2024-01-01"},
    {"categories": ("harassment",), "occurred_to": "2025-04-30"},
    {"frt": ("suspected", "unknown")},
    {"frt": ("confirmed",), "statuses": ("reported",), "occurred_to": "2025-05-31"},
    {"countries": ("FR",), "occurred_from": "2024-03-01", "occurred_to": "2025-04-30"},
    {"cities": ("Nowhere",)},
)
FACET_GROUPINGS: tuple[tuple[str, ...], ...] = (
    ("technology",),
    ("status", "city"),
    ("category",),
    ("month",),
    ("country", "year"),
)
DEPLOYMENT_ONLY = ("frt",)
INCIDENT_ONLY = ("technologies", "categories")


async def test_triggers_keep_the_rollup_equal_to_a_rebuild(store: Store) -> None:
    async for _ in stages(store):
        assert table(store.db.path, "SELECT * FROM stats_rollup") == table(
            store.db.path, ROLLUP_FROM_SCRATCH
        )
        assert table(store.db.path, "SELECT * FROM stats_cells") == table(
            store.db.path, CELLS_FROM_SCRATCH
        )
        assert table(store.db.path, "SELECT * FROM stats_facets") == table(
            store.db.path, FACETS_FROM_SCRATCH
        )


async def test_the_sites_counts_equal_the_scan(store: Store) -> None:
    """``counts`` (from stats_facets) counts what ``scan_counts`` does, per group, for
    every filter and grouping of the site's columns and whole months."""
    queries = store.queries
    async for _ in stages(store):
        cases = itertools.product(("incident", "deployment"), FACET_FILTERS, FACET_GROUPINGS)
        for kind, fields, keys in cases:
            other = INCIDENT_ONLY if kind == "deployment" else DEPLOYMENT_ONLY
            if any(name in fields for name in other):
                continue
            query = QueryFilter(kind=kind, audiences=("public",), **fields)
            assert facets.answerable(query, keys), (query, keys)
            counted = await queries.counts(query, keys)
            scanned = await queries.scan_counts(query, keys)
            assert sorted(counted, key=repr) == sorted(scanned, key=repr), (query, keys)
            total = (await queries.counts(query, ()))[0][1]
            assert total == (await queries.scan_stats(query, ())).total.count


def test_the_sites_counts_answer_only_public_records_and_their_own_filters() -> None:
    public = QueryFilter(kind="incident", audiences=("public",))
    assert facets.answerable(public, ("technology",))
    assert not facets.answerable(replace(public, audiences=ALL), ("technology",))
    assert not facets.answerable(replace(public, audiences=("network",)), ())
    assert not facets.answerable(public, ("origin",))
    assert not facets.answerable(public, ("agency",))
    for fields in (
        *SCAN_FILTERS[:2],
        {"regions": ("NY",)},
        {"agencies": ("NYPD",)},
        {"origins": (CHAPTERS[0].public_key,)},
        {"text": "camera"},
        {"area_prefix": "gc"},
        {"created_from_ms": 1},
        {"cities": ("",)},
    ):
        assert not facets.answerable(replace(public, **fields), ()), fields


async def test_taking_records_out_at_a_rows_edges_keeps_the_tables_exact(store: Store) -> None:
    """Migration 15's removal trigger: first and last searched again only at an edge,
    cells updated in place; after each step the tables equal a rebuild."""
    data = Generated()
    one, other = CHAPTERS[0], CHAPTERS[1]

    def incident(key: Any, audience: str, day: str) -> Item:
        body = incident_body(
            country="FR", category="harassment", occurred_on={"date": day, "precision": "day"}
        )
        return data.add(key, "incident", audience, body, 1_750_000_000_000)

    days = ("2025-03-03", "2025-03-10", "2025-03-10", "2025-03-20")
    first = [incident(one, "public", day) for day in days]
    first += [incident(one, "network", "2025-03-05"), incident(other, "public", "2025-03-25")]
    await ingest(store, first)

    def retract(item: Item) -> Item:
        retraction = {"target": item.id, "reason": "error"}
        return data.add(item.origin, "retraction", "public", retraction, 1_760_000_000_000)

    def supersede(item: Item, day: str) -> Item:
        body = dict(item.body, supersedes=item.id, occurred_on={"date": day, "precision": "day"})
        return data.add(item.origin, "incident", item.audience, body, item.created_ms + 7)

    steps = [
        [supersede(first[0], "2025-04-01")],  # the row's first leaves; 03-10 is first now
        [retract(first[1])],  # one of two records on the first day leaves: it stays first
        [retract(first[3])],  # the last leaves
        [retract(first[5])],  # the other chapter's only record: a chapter fewer
        [retract(first[2]), retract(first[4])],  # the cell's last records: rows and cell go
    ]
    for step in steps:
        await ingest(store, step)
        for name, rebuilt in (
            ("stats_rollup", ROLLUP_FROM_SCRATCH),
            ("stats_cells", CELLS_FROM_SCRATCH),
            ("stats_facets", FACETS_FROM_SCRATCH),
        ):
            assert table(store.db.path, f"SELECT * FROM {name}") == table(store.db.path, rebuilt), (
                name,
                step,
            )
    march = table(store.db.path, "SELECT * FROM stats_cells WHERE month = '2025-03'")
    assert march == []


async def test_rollup_scan_and_python_agree(store: Store) -> None:
    queries = store.queries
    async for data in stages(store):
        cases = itertools.product(("incident", "deployment"), AUDIENCE_SETS, GROUPINGS, FILTERS)
        for kind, audiences, keys, fields in cases:
            if kind == "deployment" and "categories" in fields:
                continue
            query = QueryFilter(kind=kind, audiences=audiences, **fields)
            assert rollup.answerable(query, keys)
            answer = await queries.stats(query, keys)
            assert answer == await queries.scan_stats(query, keys), (query, keys)
            assert answer == expected(data, query, keys), (query, keys)


async def test_what_the_rollup_cannot_answer_is_scanned(store: Store) -> None:
    queries = store.queries
    async for data in stages(store):
        base = QueryFilter(kind="incident", audiences=ALL)
        for fields, keys in itertools.product(SCAN_FILTERS, GROUPINGS):
            query = replace(base, **fields)
            assert not rollup.answerable(query, keys)
            assert await queries.stats(query, keys) == expected(data, query, keys)


async def test_the_figures_counts_equal_the_scans_groups(store: Store) -> None:
    """``scan_counts`` (the figures page) counts what ``scan_groups`` does, per group."""
    queries = store.queries
    async for _ in stages(store):
        cases: list[tuple[QueryKind, tuple[str, ...]]] = [
            ("incident", ("technology",)),
            ("deployment", ("status", "city")),
        ]
        for (kind, keys), audiences in itertools.product(cases, AUDIENCE_SETS):
            query = QueryFilter(kind=kind, audiences=audiences)
            counted = await queries.scan_counts(query, keys)
            grouped = await queries.scan_groups(query, keys)
            assert sorted(counted, key=repr) == sorted(
                ((g.keys, g.count) for g in grouped), key=repr
            )
            assert counted


def test_cells_answer_only_their_own_grouping() -> None:
    everyone = QueryFilter(kind="incident", audiences=ALL)
    assert rollup.cells_visibility(everyone, ("month", "category", "country")) == "all"
    public = QueryFilter(kind="incident", audiences=("public",))
    assert rollup.cells_visibility(public, ("country", "category", "month")) == "public"
    assert rollup.cells_visibility(everyone, ("country", "category")) is None
    assert rollup.cells_visibility(everyone, ("country", "category", "month", "origin")) is None
    network = QueryFilter(kind="incident", audiences=("network",))
    assert rollup.cells_visibility(network, ("country", "category", "month")) is None
    chapter = replace(everyone, origins=(CHAPTERS[0].public_key,))
    assert rollup.cells_visibility(chapter, ("country", "category", "month")) is None


FACETED = ("stats_rollup", "stats_cells", "stats_facets")


async def test_migrations_5_and_15_build_the_rollups_of_existing_records(tmp_path: Path) -> None:
    path = tmp_path / "banscan.db"
    store = await Store.open(path, stewards=frozenset({STEWARD.public_key}))
    await admit(store, *(key.public_key for key in CHAPTERS))
    async for _ in stages(store):
        pass
    await store.close()
    kept = [table(path, f"SELECT * FROM {name}") for name in FACETED]
    with sqlite3.connect(path, isolation_level=None) as conn:
        for name in ("stats_rollup_restore", "stats_rollup_remove"):
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("DROP TABLE stats_rollup")
        conn.execute("DROP TABLE stats_cells")
        conn.execute("DROP INDEX records_current_rollup")
        # Back to version 4: what later migrations made goes too.
        conn.executescript(UNDO_MAP_GRID)
        for name in ("submissions", "moderator_keys", "audit_log", "request_nonces"):
            conn.execute(f"DROP TABLE {name}")
        # Every index on the column goes with it (records_frt, and later migrations').
        on_frt = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%frt%'"
        ).fetchall()
        for (name,) in on_frt:
            conn.execute(f"DROP INDEX {name}")
        conn.execute("ALTER TABLE records DROP COLUMN frt")
        conn.execute("PRAGMA user_version = 4")
    store = await Store.open(path, stewards=frozenset({STEWARD.public_key}))
    await store.close()
    assert [table(path, f"SELECT * FROM {name}") for name in FACETED] == kept
