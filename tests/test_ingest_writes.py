"""What an ingest writes besides the records: the indexes the records table keeps
(migrations 11 and 18 dropped those no read uses) and when checkpoints start (by rows
changed, so a batch gets one after its commit and single publishes share one)."""

import pytest

from protocol.limits import DEFAULT_LIMITS
from protocol.records import verify_record
from storage.database import CHECKPOINT_CHANGES
from storage.filters import QueryFilter, scan_source, where_clause
from storage.store import Store
from tests.factories import NETWORK, admit, feed, seeded_key

DROPPED = {
    "records_audience",
    "records_created",
    "records_occurred",
    "records_frt",
    # storage.listindexes.FEWER_INDEXES
    "records_area",
    "records_point",
    "records_country",
    "records_city",
}
# Read paths' plans use these (bench/README.md, "Which indexes the records table keeps"
# and "Fewer indexes on records").
KEPT = {
    "records_kind",
    "records_category",
    "records_agency",
    "records_current_created",
    "records_current_place",
    "records_current_rollup",
    "records_current_country",
    "records_current_city",
    "records_current_status",
    "records_current_frt",
    "records_map_points",
    "records_map_areas",
}


async def test_the_records_table_keeps_only_indexes_reads_use(store: Store) -> None:
    rows = await store.db.reader.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'"
    )
    names = {name for (name,) in rows}
    assert names & DROPPED == set()
    assert names >= KEPT


async def _scan_plan(store: Store, query: QueryFilter) -> str:
    where, params = where_clause(query, kind_index=False)
    plan = await store.db.reader.execute_fetchall(
        f"EXPLAIN QUERY PLAN SELECT COUNT(*) FROM {scan_source(query)} WHERE {where}", params
    )
    return " | ".join(row[3] for row in plan)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        # Not through an audience index (1-2 s at 1,000,000 records): in order.
        (QueryFilter("incident", ("public",)), "records_current_created"),
        # An area prefix walks the map's partial index of current incidents by area.
        (QueryFilter("incident", ("public", "network"), area_prefix="u33"), "records_map_areas"),
        # A country or a city: the current records' index by it, the kind first.
        (QueryFilter("incident", ("public",), countries=("DE",)), "records_current_country"),
        (QueryFilter("deployment", ("public",), cities=("Berlin",)), "records_current_city"),
        (
            QueryFilter("incident", ("public",), countries=("US",), categories=("other",)),
            "records_current_place",
        ),
    ],
)
async def test_a_stats_scan_reads_through_the_index_its_filters_need(
    store: Store, query: QueryFilter, index: str
) -> None:
    plan = await _scan_plan(store, query)
    assert f" INDEX {index} " in plan + " ", plan


@pytest.mark.parametrize("batch", [1, 100])
async def test_a_checkpoint_starts_once_enough_rows_changed(store: Store, batch: int) -> None:
    key = seeded_key("writes")
    await admit(store, key.public_key)
    await store.db._settle()  # the admission's own checkpoint, if any
    store.db._checkpointing = None
    before = store.db._writer.total_changes
    records = [
        verify_record(r, network_id=NETWORK, limits=DEFAULT_LIMITS) for r in feed(key, batch)
    ]
    await store.records.ingest(records)
    changed = store.db._writer.total_changes - before
    assert (changed >= CHECKPOINT_CHANGES) == (batch == 100), changed
    assert (store.db._checkpointing is not None) == (batch == 100)
    await store.db._settle()
