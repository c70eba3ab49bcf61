"""What an ingest writes besides the records: the indexes the records table keeps
(migration 11 dropped those no read uses) and when checkpoints start (by rows changed,
so a batch gets one after its commit and single publishes share one)."""

import pytest

from protocol.limits import DEFAULT_LIMITS
from protocol.records import verify_record
from storage.database import CHECKPOINT_CHANGES
from storage.filters import QueryFilter, where_clause
from storage.store import Store
from tests.factories import NETWORK, admit, feed, seeded_key

DROPPED = {"records_audience", "records_created", "records_occurred", "records_frt"}
# Read paths' plans use these (bench/README.md, "Which indexes the records table keeps").
KEPT = {
    "records_kind",
    "records_country",
    "records_city",
    "records_category",
    "records_agency",
    "records_area",
    "records_current_created",
    "records_current_place",
    "records_current_rollup",
    "records_current_country",
    "records_current_city",
    "records_current_status",
    "records_current_frt",
}


async def test_the_records_table_keeps_only_indexes_reads_use(store: Store) -> None:
    rows = await store.db.reader.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'"
    )
    names = {name for (name,) in rows}
    assert names & DROPPED == set()
    assert names >= KEPT


async def test_a_stats_scan_reads_rows_in_order_not_through_an_audience_index(
    store: Store,
) -> None:
    """The audience index made every stats scan read each row through it (1-2 s at
    1,000,000 records); an area prefix now walks the area index."""
    plans = {}
    for name, query in {
        "all": QueryFilter("incident", ("public",)),
        "area": QueryFilter("incident", ("public",), area_prefix="u33"),
    }.items():
        where, params = where_clause(query, kind_index=False)
        plan = await store.db.reader.execute_fetchall(
            f"EXPLAIN QUERY PLAN SELECT COUNT(*) FROM records r WHERE {where}", params
        )
        plans[name] = " | ".join(row[3] for row in plan)
    assert "records_audience" not in plans["all"]
    assert "USING INDEX records_area " in plans["area"], plans["area"]


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
