"""The map's rollup of incidents per area cell (storage.mapareas) against a scan.

Records are ingested in stages (new records in four audiences, then later versions
that move incidents to other cells, retractions, which also erase, then more of
all of them in one batch), and after each stage the ``map_areas`` table, as
ingest and the triggers keep it, is compared with the same table built from
scratch, and the counts the map reads from it with the counts scanned from the
records and with plain Python over the generated records.
"""

import asyncio
import random
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import given
from hypothesis import strategies as st

from node.state import TASKS
from protocol.fields import GEOHASH_ALPHABET
from protocol.geohash import cell_index
from protocol.limits import DEFAULT_LIMITS
from protocol.records import verify_record
from storage.areacells import MAX_PRECISION, fast_cell_index, suppress
from storage.filters import QueryFilter
from storage.mapareas import answerable
from storage.store import Store
from tests.conftest import NodeClient
from tests.factories import NETWORK, STEWARD, admit, incident_body
from tests.map_migration import UNDO_MAP_AREAS
from tests.nodeapp import put
from tests.querydata import (
    CHAPTERS,
    Generated,
    Item,
    add_random,
    random_incident,
    supersede_and_retract,
)

# Nested cells of every precision an incident may carry, and one record with none.
AREAS = ("gcpvj0", "gcpvj1", "gcpvj", "gcpv", "gcp", "u33db2", "u33d", "dr5ru7", "9", None)
FROM_SCRATCH = """
    SELECT audience, area, COUNT(*) FROM records
    WHERE kind = 'incident' AND area IS NOT NULL AND superseded_by IS NULL
        AND retracted_by IS NULL AND erased_ms IS NULL
    GROUP BY 1, 2
"""
AUDIENCE_SETS = (("public",), ("public", "network", "coordinators"), ("network",), ())
PREFIXES = (None, "gcpv", "u", "dr5ru7", "x")


@pytest.fixture
async def store(store: Store) -> Store:
    await admit(store, *(key.public_key for key in CHAPTERS))
    return store


def placed(body: dict[str, Any], area: str | None) -> dict[str, Any]:
    body = dict(body)
    if area is None:
        body.pop("area", None)
    else:
        body["area"] = area
    return body


def add_incidents(data: Generated, rng: random.Random, count: int) -> list[Item]:
    """``count`` incidents in random cells of :data:`AREAS` and random audiences."""
    added = []
    for n in range(count):
        key = rng.choice(CHAPTERS)
        body = placed(random_incident(rng), rng.choice(AREAS))
        audience = rng.choice(("public", "public", "network", "coordinators"))
        created_ms = 1_750_000_000_000 + rng.randrange(10_000_000) * 1000 + n
        added.append(data.add(key, "incident", audience, body, created_ms))
    return added


def move(data: Generated, rng: random.Random, count: int) -> list[Item]:
    """Later versions of ``count`` current incidents, each in another cell (or none)."""
    moved = []
    for old in rng.sample([i for i in data.items if i.current and i.kind == "incident"], count):
        body = placed(dict(old.body, supersedes=old.id), rng.choice(AREAS))
        moved.append(data.add(old.origin, "incident", old.audience, body, old.created_ms + 7))
        old.current = False
    return moved


async def ingest(store: Store, items: Sequence[Item]) -> None:
    await store.records.ingest(
        [verify_record(i.record, network_id=NETWORK, limits=DEFAULT_LIMITS) for i in items]
    )


async def stages(store: Store) -> AsyncIterator[Generated]:
    data, rng = Generated(), random.Random(17)
    await ingest(store, [*add_incidents(data, rng, 150), *add_random(data, rng, 60)])
    yield data
    await ingest(store, [*move(data, rng, 25), *supersede_and_retract(data, rng, 20)])
    yield data
    fresh = add_incidents(data, rng, 40)
    changes = [*move(data, rng, 10), *supersede_and_retract(data, rng, 15)]
    await ingest(store, [*changes[10:], *fresh, *changes[:10]])
    yield data


def table(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return sorted(conn.execute(sql).fetchall())


def expected(data: Generated, audiences: tuple[str, ...], prefix: str | None) -> dict[str, int]:
    return dict(
        Counter(
            i.body["area"]
            for i in data.visible("incident", audiences or ("",))
            if "area" in i.body and (prefix is None or i.body["area"].startswith(prefix))
        )
    )


async def test_the_rollup_stays_equal_to_a_rebuild_and_to_a_scan(store: Store) -> None:
    async for data in stages(store):
        rolled = table(store.db.path, "SELECT * FROM map_areas")
        assert rolled == table(store.db.path, FROM_SCRATCH)
        assert rolled
        assert all(row[2] > 0 for row in rolled)
        for audiences in AUDIENCE_SETS:
            for prefix in PREFIXES:
                query = QueryFilter(kind="incident", audiences=audiences, area_prefix=prefix)
                assert answerable(query)
                counts = await store.map.area_counts(query)
                assert counts == await store.map.area_counts(query, rollup=False)
                assert counts == expected(data, audiences, prefix), (audiences, prefix)
                for minimum in (1, 3):
                    assert suppress(counts, minimum).total == sum(counts.values())


async def test_other_filters_are_counted_from_the_records(store: Store) -> None:
    async for data in stages(store):
        for field, value in (("category", "harassment"), ("city", "London")):
            fields: dict[str, Any] = {"categories" if field == "category" else "cities": (value,)}
            query = QueryFilter(kind="incident", audiences=("public",), **fields)
            assert not answerable(query)
            assert await store.map.area_counts(query) == dict(
                Counter(
                    i.body["area"]
                    for i in data.visible("incident", ("public",))
                    if "area" in i.body and i.body[field] == value
                )
            )
    assert not answerable(QueryFilter(kind="deployment", audiences=("public",)))


async def test_a_record_current_again_is_counted_again(store: Store) -> None:
    async for _ in stages(store):
        pass
    with sqlite3.connect(store.db.path, isolation_level=None) as conn:
        conn.execute(
            "UPDATE records SET superseded_by = NULL WHERE kind = 'incident' "
            "AND superseded_by IS NOT NULL"
        )
        conn.execute(
            "UPDATE records SET retracted_by = NULL, erased_ms = NULL WHERE kind = 'incident' "
            "AND retracted_by IS NOT NULL"
        )
    assert table(store.db.path, "SELECT * FROM map_areas") == table(store.db.path, FROM_SCRATCH)


async def test_migration_17_counts_the_incidents_already_stored(store: Store) -> None:
    async for _ in stages(store):
        pass
    path = store.db.path
    await store.close()
    kept = table(path, "SELECT * FROM map_areas")
    assert kept
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.executescript(UNDO_MAP_AREAS)
        conn.execute("PRAGMA user_version = 16")
    reopened = await Store.open(path, stewards=frozenset({STEWARD.public_key}))
    await reopened.close()
    assert table(path, "SELECT * FROM map_areas") == kept


def test_the_fast_cell_index_is_the_geohash_cell_index() -> None:
    short = [""]
    for _ in range(3):
        short = [prefix + ch for prefix in short for ch in GEOHASH_ALPHABET]
        assert all(fast_cell_index(g) == cell_index(g) for g in short)


@given(st.text(alphabet=GEOHASH_ALPHABET, min_size=1, max_size=MAX_PRECISION))
def test_the_fast_cell_index_of_any_area(geohash: str) -> None:
    assert fast_cell_index(geohash) == cell_index(geohash)


def reference_suppress(counts: dict[str, int], minimum: int) -> tuple[dict[str, int], int]:
    """The groups as first written: every cell's incidents, carried up while too few."""
    shown: dict[str, int] = {}
    carried: Counter[str] = Counter()
    for length in range(MAX_PRECISION, 0, -1):
        level = Counter(carried)
        for geohash, count in counts.items():
            if min(len(geohash), MAX_PRECISION) == length and count > 0:
                level[geohash[:MAX_PRECISION]] += count
        carried = Counter()
        for geohash, count in level.items():
            if count >= max(minimum, 1):
                shown[geohash] = count
            else:
                carried[geohash[:-1]] += count
    return shown, sum(carried.values())


@given(
    st.dictionaries(
        st.text(alphabet="0bgu", min_size=1, max_size=8), st.integers(0, 5), max_size=40
    ),
    st.integers(0, 6),
)
def test_suppress_gives_the_groups_of_the_reference(counts: dict[str, int], minimum: int) -> None:
    cells = suppress(counts, minimum)
    assert (cells.shown, cells.hidden) == reference_suppress(counts, minimum)


async def test_groups_warmed_ahead_are_never_older_than_a_write(store: Store) -> None:
    """Groups kept by ``warm`` answer a lagging read while nothing was written, and not
    after a write; groups a lagging read computed answer it until the bound, whatever
    was written since (the map's freshness bound)."""
    store.map.max_age_ms = 60_000
    query = QueryFilter(kind="incident", audiences=("public",))
    stages_ = stages(store)
    data = await anext(stages_)
    warmed = await store.map.warm(query, 1)
    assert warmed.shown == suppress(expected(data, ("public",), None), 1).shown
    data = await anext(stages_)  # later versions and retractions: a write after warming
    fresh, _, _ = await store.map.area_cells_as_of(query, 1)
    assert fresh.total == sum(expected(data, ("public",), None).values()) != warmed.total
    await anext(stages_)  # another write, within the bound of a lagging read's groups
    assert (await store.map.area_cells_as_of(query, 1))[0] is fresh
    network = QueryFilter(kind="incident", audiences=("network",))
    warmed = await store.map.warm(network, 1)
    assert (await store.map.area_cells_as_of(network, 1))[0] is warmed


async def test_a_node_warms_the_default_map_and_shows_what_is_written_after(
    client: NodeClient,
) -> None:
    """The node computes the default map's groups as it starts; incidents published just
    after are on the first tile all the same."""
    app = client.app
    deadline = time.monotonic() + 10
    while app[TASKS].running("warm-map"):
        assert time.monotonic() < deadline, "the map was not warmed within 10 s"
        await asyncio.sleep(0.01)
    assert isinstance(client.server, TestServer)
    for _ in range(3):
        await put(client.server, "public", "incident", incident_body(area="gcpvj0"))
    answer = await client.get("/tiles/0/0/0.mvt")
    assert answer.status == 200
    tile = mapbox_vector_tile.decode(await answer.read())
    counts = [f["properties"]["count"] for f in tile["incidents"]["features"]]
    assert counts == [3]
