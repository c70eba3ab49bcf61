"""The map's data layer: the deployment grid stays exact, clusters equal a scan, and no
incident group below the minimum is ever shown, at any zoom, in any box.

The grid (``map_grid``) is compared with a rebuild from the records after each of
three ingest stages (new records, later versions and retractions, more of both);
clusters read from it are compared with clusters counted from the records; the
incident cells are checked as a property over any set of area cells.
"""

import asyncio
import math
import random
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.web.geojson import View, features
from node.web.tiles import encode_tile
from protocol.fields import GEOHASH_ALPHABET
from protocol.limits import DEFAULT_LIMITS
from protocol.records import verify_record
from storage.areacells import MAX_PRECISION, suppress
from storage.filters import QueryFilter
from storage.mapdata import MAX_POINTS, OVERFLOW_SHIFT, POINT_ZOOM, Cluster, Point
from storage.mapgrid import LEVELS, V10_LEVELS, stored_level
from storage.store import Store
from tests.factories import (
    NETWORK,
    STEWARD,
    admit,
    deployment_body,
    incident_body,
    membership,
    seeded_key,
    signed,
)
from tests.map_migration import UNDO_GRID_LEVELS, UNDO_MAP_GRID
from tests.querydata import CHAPTERS, Generated, Item, add_random, supersede_and_retract

WORLD = (-1_800_000_000, -900_000_000, 1_800_000_000, 900_000_000)
GRID_FROM_SCRATCH = """
    SELECT l.level, (lon_e7 + 1800000000) >> l.level, (lat_e7 + 900000000) >> l.level,
        audience, COALESCE(country, ''), COALESCE(city, ''), COALESCE(status, ''),
        COALESCE(frt, ''), COUNT(*), SUM(lat_e7), SUM(lon_e7)
    FROM records JOIN map_levels l
    WHERE kind = 'deployment' AND lat_e7 IS NOT NULL AND superseded_by IS NULL
        AND retracted_by IS NULL AND erased_ms IS NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""


@pytest.fixture
async def store(store: Store) -> Store:
    await admit(store, *(key.public_key for key in CHAPTERS))
    return store


async def ingest(store: Store, items: Sequence[Item]) -> None:
    await store.records.ingest(
        [verify_record(i.record, network_id=NETWORK, limits=DEFAULT_LIMITS) for i in items]
    )


async def stages(store: Store) -> AsyncIterator[Generated]:
    """The same data after each of three ingest stages."""
    data, rng = Generated(), random.Random(12)
    await ingest(store, add_random(data, rng, 300))
    yield data
    await ingest(store, supersede_and_retract(data, rng, 40))
    yield data
    fresh = add_random(data, rng, 60)
    changes = supersede_and_retract(data, rng, 20)
    await ingest(store, [*changes[20:], *fresh, *changes[:20]])
    yield data


def table(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return sorted(conn.execute(sql).fetchall())


async def test_the_grid_stays_equal_to_a_rebuild(store: Store) -> None:
    async for _ in stages(store):
        grid = table(store.db.path, "SELECT * FROM map_grid")
        assert grid == table(store.db.path, GRID_FROM_SCRATCH)
        assert all(row[8] > 0 for row in grid)


FILTERS: tuple[dict[str, Any], ...] = (
    {},
    {"countries": ("US", "GB")},
    {"statuses": ("confirmed",)},
    {"frt": ("confirmed", "unknown")},
    {"cities": ("London",)},
    {"occurred_from": "2025-03-01"},  # the grid cannot answer this one: a scan
)
BOXES = (WORLD, (-300_000_000, 0, 600_000_000, 700_000_000), (0, -900_000_000, 1, 0))


async def test_clusters_from_the_grid_equal_clusters_counted_from_the_records(
    store: Store,
) -> None:
    async for data in stages(store):
        for fields in FILTERS:
            query = QueryFilter(kind="deployment", audiences=("public",), **fields)
            # Every zoom below the points': each grid level, stored or one shift of a stored one.
            for zoom in range(0, POINT_ZOOM):
                for box in BOXES:
                    rolled = await store.map.deployments(query, zoom, box)
                    scanned = await store.map.deployments(query, zoom, box, rollup=False)
                    assert rolled == scanned, (fields, zoom, box)
            # Every public deployment is counted once over the world at any zoom.
            world = await store.map.deployments(query, 0, WORLD)
            counted = sum(i.count if isinstance(i, Cluster) else 1 for i in world)
            expected = [
                i
                for i in data.visible("deployment", ("public",))
                if all(
                    i.body[field] in values
                    for field, values in (
                        ("country", fields.get("countries")),
                        ("status", fields.get("statuses")),
                        ("city", fields.get("cities")),
                    )
                    if values
                )
                and (not fields.get("frt") or i.body["frt_capability"]["status"] in fields["frt"])
                and (
                    "occurred_from" not in fields
                    or i.body.get("observed_on", {}).get("date", "") >= fields["occurred_from"]
                )
            ]
            assert counted == len(expected), fields


async def test_high_zooms_give_each_deployment_with_its_id(store: Store) -> None:
    async for data in stages(store):
        query = QueryFilter(kind="deployment", audiences=("public",))
        found = await store.map.deployments(query, POINT_ZOOM, WORLD)
        assert all(isinstance(i, Point) and i.id is not None for i in found)
        public = data.visible("deployment", ("public",))
        assert sorted(i.id.hex() for i in found if isinstance(i, Point) and i.id) == sorted(
            i.id for i in public
        )


async def test_a_box_too_full_for_points_is_drawn_as_clusters_of_the_overflow_level(
    store: Store,
) -> None:
    """More than MAX_POINTS deployments in a box from POINT_ZOOM: clusters of
    OVERFLOW_SHIFT (not the finest level), every deployment counted once."""
    key = CHAPTERS[0]
    rng = random.Random(5)
    records = [
        signed(
            key,
            seq,
            kind="deployment",
            body=deployment_body(
                lat_e7=407_580_000 + rng.randrange(-300_000, 300_000),
                lon_e7=-739_855_000 + rng.randrange(-300_000, 300_000),
            ),
        )
        for seq in range(1, MAX_POINTS + 2)
    ]
    await store.records.ingest(
        [verify_record(r, network_id=NETWORK, limits=DEFAULT_LIMITS) for r in records]
    )
    query = QueryFilter(kind="deployment", audiences=("public",))
    box = (-740_200_000, 407_200_000, -739_500_000, 407_900_000)
    for zoom in (POINT_ZOOM, POINT_ZOOM + 2):
        found = await store.map.deployments(query, zoom, box)
        assert found == await store.map.clusters(query, OVERFLOW_SHIFT, box)
        assert any(isinstance(item, Cluster) for item in found)
        assert sum(i.count if isinstance(i, Cluster) else 1 for i in found) == MAX_POINTS + 1


geohashes = st.text(alphabet=GEOHASH_ALPHABET, min_size=1, max_size=MAX_PRECISION)
area_counts = st.dictionaries(geohashes, st.integers(1, 6), max_size=60)


def clustered_areas() -> st.SearchStrategy[dict[str, int]]:
    """Areas sharing prefixes (as real incidents do), so cells merge into parents."""
    prefixes = st.sampled_from(["u", "gc", "gcp", "dr5r", "u33d"])
    suffix = st.text(alphabet="0bgu", max_size=4)
    area = st.builds(lambda p, s: (p + s)[:MAX_PRECISION], prefixes, suffix)
    return st.dictionaries(area, st.integers(1, 4), max_size=40)


@settings(max_examples=300, deadline=None)
@given(counts=st.one_of(area_counts, clustered_areas()), minimum=st.integers(1, 6))
def test_no_drawn_cell_holds_fewer_than_the_minimum(counts: dict[str, int], minimum: int) -> None:
    cells = suppress(counts, minimum)
    total = sum(counts.values())
    assert sum(cells.shown.values()) + cells.hidden == total
    assert all(count >= minimum for count in cells.shown.values())
    # Every incident is in exactly one shown group, one that contains its area.
    for area, count in cells.shown.items():
        assert count == sum(
            n
            for a, n in counts.items()
            if a.startswith(area)
            and not any(a.startswith(other) and len(other) > len(area) for other in cells.shown)
        )
    for precision in range(1, MAX_PRECISION + 1):
        drawn = list(cells.cells(precision, -180, -90, 180, 90))
        assert all(cell.count >= minimum for cell in drawn)
        assert sum(cell.count for cell in drawn) == total - cells.hidden
        # A drawn cell is a sum of whole shown groups (so differences between zooms are too).
        groups = Counter({g[:precision]: 0 for g in cells.shown})
        for group, count in cells.shown.items():
            groups[group[:precision]] += count
        assert {c.geohash: c.count for c in drawn} == dict(groups)
        # Any box draws a subset of the world's cells with the same counts.
        part = list(cells.cells(precision, -10.5, 30.25, 40.0, 60.0))
        assert {c.geohash: c.count for c in part}.items() <= dict(groups).items()


LONDON_AREAS = st.builds(
    lambda prefix, suffix: (prefix + suffix)[:MAX_PRECISION],
    st.sampled_from(["gcpv", "gcpu", "gcp", "u09t"]),
    st.text(alphabet="0jkuv", max_size=2),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    incidents=st.lists(
        st.tuples(LONDON_AREAS, st.sampled_from(["harassment", "wrongful_arrest"])), max_size=12
    ),
    minimum=st.integers(2, 4),
)
def test_no_tile_or_view_of_stored_incidents_shows_a_small_group(
    tmp_path_factory: pytest.TempPathFactory, incidents: list[tuple[str, str]], minimum: int
) -> None:
    """Any incidents, stored and read back as the map reads them, drawn in tiles (encoded
    and decoded) and GeoJSON views at every zoom, with and without a filter."""

    async def run() -> None:
        path = tmp_path_factory.mktemp("cells") / "banscan.db"
        store = await Store.open(path, stewards=frozenset({STEWARD.public_key}))
        key = CHAPTERS[0]
        try:
            await admit(store, key.public_key)
            records = [
                verify_record(
                    signed(key, n + 1, body=incident_body(area=area, category=category)),
                    network_id=NETWORK,
                    limits=DEFAULT_LIMITS,
                )
                for n, (area, category) in enumerate(incidents)
            ]
            if records:
                await store.records.ingest(records)
            for categories in ((), ("harassment",)):
                query = QueryFilter(kind="incident", audiences=("public",), categories=categories)
                cells = await store.map.area_cells(query, minimum)
                selected = [i for i in incidents if not categories or i[1] in categories]
                assert cells.total == len(selected)
                for zoom in range(0, 16):
                    x, y = tile_of(51.5, -0.1, zoom)
                    tile = encode_tile(zoom, x, y, [], cells)
                    decoded = mapbox_vector_tile.decode(tile)
                    drawn = decoded.get("incidents", {}).get("features", [])
                    assert all(f["properties"]["count"] >= minimum for f in drawn)
                    view = View(-10, 45, 10, 60, zoom)
                    assert all(
                        f["properties"]["count"] >= minimum for f in features(view, [], cells)
                    )
        finally:
            await store.close()

    asyncio.run(run())


def tile_of(lat: float, lon: float, zoom: int) -> tuple[int, int]:
    n = 1 << zoom
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


async def test_migration_10_builds_the_grid_of_existing_deployments(
    store: Store, tmp_path: Path
) -> None:
    async for _ in stages(store):
        pass
    path = store.db.path
    await store.close()
    kept = table(path, "SELECT * FROM map_grid")
    assert kept
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.executescript(UNDO_MAP_GRID)
        conn.execute("PRAGMA user_version = 9")
    reopened = await Store.open(path, stewards=frozenset({STEWARD.public_key}))
    await reopened.close()
    assert table(path, "SELECT * FROM map_grid") == kept


def test_dense_levels_are_stored_and_coarse_ones_two_shifts_at_most() -> None:
    # Zooms 9 to 12 cluster at levels 18 to 15: read as stored (bench/README.md).
    assert all(stored_level(level) == level for level in range(15, 19))
    for level in range(LEVELS[0], LEVELS[-1] + 4):
        assert stored_level(level) in LEVELS
        assert 0 <= level - stored_level(level) <= 2 or stored_level(level) == LEVELS[-1]


async def test_migration_19_stores_the_grid_at_its_new_levels(store: Store, tmp_path: Path) -> None:
    async for _ in stages(store):
        pass
    path = store.db.path
    await store.close()
    kept = table(path, "SELECT * FROM map_grid")
    assert {row[0] for row in kept} == set(LEVELS)
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.executescript(UNDO_GRID_LEVELS)
        conn.execute("PRAGMA user_version = 18")
    # Taken back: migration 10's levels, exact.
    assert {row[0] for row in table(path, "SELECT * FROM map_grid")} == set(V10_LEVELS)
    assert table(path, "SELECT * FROM map_grid") == table(path, GRID_FROM_SCRATCH)
    reopened = await Store.open(path, stewards=frozenset({STEWARD.public_key}))
    await reopened.close()
    assert table(path, "SELECT level FROM map_levels") == [(level,) for level in LEVELS]
    assert table(path, "SELECT * FROM map_grid") == kept


async def test_surveyed_places_come_from_chapters_and_node_records(store: Store) -> None:
    lisbon = seeded_key("lisbon chapter")
    admission = dict(membership(lisbon.public_key), city="Lisboa", country="PT")
    node_record = {"urls": ["https://nyc.example.org"], "name": "NYC", "country": "US"}
    held = {o: seq for o, audience, seq in await store.records.feeds() if audience == "public"}
    next_seq = held[STEWARD.public_key] + 1
    records = [
        signed(STEWARD, next_seq, kind="membership", body=admission),
        signed(CHAPTERS[1], 1, kind="node", body=node_record),
    ]
    await store.records.ingest(
        [verify_record(r, network_id=NETWORK, limits=DEFAULT_LIMITS) for r in records]
    )
    surveyed = await store.map.surveyed(("public",), own=("es", "Madrid"))
    assert set(surveyed.countries) == {"ES", "PT", "US"}
    assert set(surveyed.cities) == {("ES", "Madrid"), ("PT", "Lisboa")}
    suspended = dict(admission, action="suspend")
    suspension = signed(STEWARD, next_seq + 1, kind="membership", body=suspended)
    await store.records.ingest(
        [verify_record(suspension, network_id=NETWORK, limits=DEFAULT_LIMITS)]
    )
    assert "PT" not in (await store.map.surveyed(("public",))).countries
