"""storage.queries over a real SQLite file (iteration, full-text quoting, ISO weeks), and
properties of the query parameter parser."""

import asyncio
import datetime
import sqlite3
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.params import parse_bbox, parse_query_filter
from node.problems import BadParameter
from protocol.limits import DEFAULT_LIMITS
from protocol.records import verify_record
from storage.filters import QueryFilter, fts_match
from storage.stats import _GROUP_SQL
from storage.store import Store
from tests.factories import NETWORK, admit
from tests.querydata import CHAPTERS, generate

ALL = ("public", "network", "coordinators")


@pytest.fixture
async def store(store: Store) -> Store:
    """The shared store, holding 120 generated records of admitted chapters."""
    await admit(store, *(key.public_key for key in CHAPTERS))
    data = generate(120, seed=1)
    await store.records.ingest(
        [verify_record(i.record, network_id=NETWORK, limits=DEFAULT_LIMITS) for i in data.items]
    )
    return store


async def test_iterate_yields_every_row_once_in_arrival_order(store: Store) -> None:
    queries = store.queries
    where = QueryFilter(kind="incident", audiences=ALL)
    paged = [row async for row in queries.iterate(where, page=7)]
    whole = await queries.page(where, ("created", False), None, 10_000)
    assert [r.record.rid for r in paged] == [r.record.rid for r in whole]
    assert len({r.record.rid for r in paged}) == len(paged) > 50
    assert all(r.record.body is not None and r.country for r in paged)


async def test_body_pages_hold_the_rows_iterate_yields(store: Store) -> None:
    queries = store.queries
    where = QueryFilter(kind="incident", audiences=ALL)
    rows = [row async for row in queries.iterate(where)]
    pages = [page async for page in queries.body_pages(where, page=7)]
    assert [len(page) for page in pages[:-1]] == [7] * (len(pages) - 1)
    expected = [
        (r.record.rid, r.record.id, r.record.envelope.origin, r.record.envelope.audience, *rest)
        for r in rows
        for rest in [(r.created_ms, r.record.body)]
    ]
    assert [row for page in pages for row in page] == expected


async def test_body_pages_stop_cleanly_when_the_reader_stops(store: Store) -> None:
    pages = store.queries.body_pages(QueryFilter("incident", ALL), page=5)
    first = await anext(pages)
    await pages.aclose()  # the next page was being read: it is cancelled, not left running
    assert len(first) == 5
    assert [t for t in asyncio.all_tasks() if t.get_name() == "export-page"] == []


async def test_no_audience_selects_nothing(store: Store) -> None:
    stats = await store.queries.stats(QueryFilter(kind="incident", audiences=()), [])
    assert stats.total.count == 0


async def test_unknown_group_key_is_a_programming_error(store: Store) -> None:
    with pytest.raises(ValueError, match="colour"):
        await store.queries.stats(QueryFilter(kind="incident", audiences=ALL), ["colour"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=60))
def test_any_search_text_is_a_valid_fts5_query(text: str) -> None:
    with sqlite3.connect(":memory:") as conn:
        conn.execute("CREATE VIRTUAL TABLE summaries USING fts5 (summary)")
        conn.execute("INSERT INTO summaries (summary) VALUES ('vans filmed a march')")
        match = fts_match(text)
        if match:
            conn.execute("SELECT rowid FROM summaries WHERE summaries MATCH ?", (match,))


def test_search_words_are_phrases_not_syntax() -> None:
    assert fts_match('vans "NEAR( march') == '"vans" """NEAR(" "march"'


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2200, 12, 31)))
def test_week_expression_is_the_iso_week(day: datetime.date) -> None:
    with sqlite3.connect(":memory:") as conn:
        row = conn.execute(
            f"SELECT {_GROUP_SQL['week']} FROM (SELECT ? AS occurred_on) AS r",
            (day.isoformat(),),
        ).fetchone()
    year, week, _ = day.isocalendar()
    assert row == (f"{year}-W{week:02d}",)


# The parameter parser (node.params): any input is a filter or a BadParameter.

_NAMES = st.sampled_from(
    ["country", "area", "bbox", "q", "occurred_from", "created_to", "origin", "status", "x"]
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(_NAMES, st.text(max_size=30), max_size=4),
    st.sampled_from(["incident", "deployment", "node"]),
)
def test_any_parameters_give_a_filter_or_a_bad_parameter(query: dict[str, str], kind: str) -> None:
    named = None
    try:
        where = parse_query_filter(query, kind, ALL)
    except BadParameter as exc:
        named = exc.extensions["parameter"]
    if named is None:
        assert where.kind == kind
    else:
        assert named in {*query, "kind"}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.decimals(min_value=-90, max_value=90, places=7, allow_nan=False), min_size=4, max_size=4
    )
)
def test_bbox_degrees_become_exact_e7_integers(values: list[Decimal]) -> None:
    min_lon, min_lat, max_lon, max_lat = values
    min_lat, max_lat = sorted((min_lat, max_lat))
    text = ",".join(format(v, "f") for v in (min_lon, min_lat, max_lon, max_lat))
    box = parse_bbox(text)
    assert box == tuple(int(v * 10_000_000) for v in (min_lat, min_lon, max_lat, max_lon))


def test_bbox_finer_than_e7_widens_outward() -> None:
    assert parse_bbox("0.00000001,-0.00000001,0.00000001,0.00000001") == (-1, 0, 1, 1)
