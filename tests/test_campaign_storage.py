"""The campaign kinds in storage: query columns filled at insert, migration 11's backfill,
and the partial indexes that camera and incident ingest pay nothing for."""

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, VerifiedRecord, verify_record
from storage.classify import Outcome
from storage.filters import QueryFilter, where_clause
from storage.store import Store
from tests.factories import (
    AGENCY_ID,
    NETWORK,
    action_body,
    agency_body,
    deployment_body,
    incident_body,
    policy_body,
    records_request_body,
    seeded_key,
    signed,
    vendor_body,
)
from tests.map_migration import UNDO_CAMPAIGN, UNDO_DESK

KEY = seeded_key("campaign storage")
STEWARDS = frozenset({KEY.public_key})
COLUMNS = "kind, country, region, city, category, agency, status, occurred_on, due_on"
AGENCY = {"name": "NYPD", "record": AGENCY_ID}


def verified(records: list[SignedRecord]) -> list[VerifiedRecord]:
    return [verify_record(r, network_id=NETWORK, limits=DEFAULT_LIMITS) for r in records]


def campaign_records() -> list[SignedRecord]:
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("agency", agency_body(parent=AGENCY_ID)),
        ("vendor", vendor_body()),
        ("policy", policy_body(agency=AGENCY)),
        ("records_request", records_request_body()),
        ("action", action_body()),
        ("incident", incident_body(agency=AGENCY)),
        ("deployment", deployment_body(agency=AGENCY)),
        ("deployment", deployment_body(osm={"operator": "MTA"})),
    ]
    return [signed(KEY, seq, kind=kind, body=body) for seq, (kind, body) in enumerate(bodies, 1)]


EXPECTED = [
    ("agency", "US", "NY", "New York", "police", "New York City Police Department",
     None, None, None),
    ("vendor", None, None, None, None, "Clearview AI", None, None, None),
    ("policy", "US", "CA", "San Francisco", "ban", "NYPD", "in_force", "2019-07-01", None),
    (
        "records_request",
        "US",
        "NY",
        None,
        "US-NY FOIL",
        "NYPD",
        "acknowledged",
        "2026-01-05",
        "2026-02-03",
    ),
    ("action", "US", "NY", "New York", "public_comment", "NYPD", None, "2026-01-01", "2026-12-31"),
    ("incident", "US", "NY", "New York", "protest_surveillance", "NYPD", "corroborated",
     "2025-03-14", None),
    ("deployment", "US", None, "New York", None, "NYPD", "reported", None, None),
    ("deployment", "US", None, "New York", None, "MTA", "reported", None, None),
]  # fmt: skip
# Every record but the vendor and the camera without an agency record points at one.
EXPECTED_REFS = [AGENCY_ID, None, AGENCY_ID, AGENCY_ID, AGENCY_ID, AGENCY_ID, AGENCY_ID, None]


def read_columns(path: Path) -> tuple[list[tuple[Any, ...]], list[str | None], int]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM records ORDER BY seq").fetchall()
        refs = [
            ref.hex() if ref else None
            for (ref,) in conn.execute("SELECT agency_ref FROM records ORDER BY seq")
        ]
        found = conn.execute(
            "SELECT count(*) FROM summaries WHERE summaries MATCH 'audit OR ordinance'"
        ).fetchone()[0]
    return rows, refs, found


@pytest.fixture
async def store(tmp_path: Path) -> Store:
    store = await Store.open(tmp_path / "banscan.db", stewards=STEWARDS)
    results = await store.records.ingest(verified(campaign_records()))
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    return store


async def test_query_columns_are_filled_at_insert(store: Store) -> None:
    await store.close()
    rows, refs, found = read_columns(store.db.path)
    assert rows == EXPECTED
    assert refs == EXPECTED_REFS
    assert found == 2  # the request's subject and the policy's title are searchable


async def test_migration_11_fills_the_columns_of_records_stored_unread(store: Store) -> None:
    await store.close()
    path = store.db.path
    with sqlite3.connect(path, isolation_level=None) as conn:  # back to version 11, unread
        conn.executescript(UNDO_DESK + UNDO_CAMPAIGN)
        conn.execute(
            "DELETE FROM summaries WHERE rowid IN (SELECT rid FROM records WHERE kind NOT IN"
            " ('incident', 'deployment'))"
        )
        conn.execute(
            "UPDATE records SET country = NULL, region = NULL, city = NULL, category = NULL,"
            " agency = NULL, status = NULL, occurred_on = NULL, supersedes = NULL"
            " WHERE kind NOT IN ('incident', 'deployment')"
        )
        conn.execute("PRAGMA user_version = 11")
    reopened = await Store.open(path, stewards=STEWARDS)
    await reopened.close()
    assert read_columns(path) == (EXPECTED, EXPECTED_REFS, 2)


async def test_camera_and_incident_without_agency_record_add_no_campaign_index_entry(
    store: Store,
) -> None:
    await store.close()
    with sqlite3.connect(store.db.path) as conn:
        query = QueryFilter("deployment", ("public",), agency_refs=(bytes.fromhex(AGENCY_ID),))
        where, params = where_clause(query)
        plan = conn.execute(
            f"EXPLAIN QUERY PLAN SELECT COUNT(*) FROM records r WHERE {where}", params
        ).fetchall()
        partial = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE name IN"
            " ('records_agency_ref', 'records_campaign_due')"
        ).fetchall()
    assert "records_agency_ref" in str(plan)
    assert len(partial) == 2
    assert all(" WHERE " in sql for _, sql in partial)
