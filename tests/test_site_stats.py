"""The figures page on a real node: its tables and charts say what ``/api/v1/stats`` says, and
no group of incidents smaller than ``[site] min_incidents_per_cell`` is ever shown."""

import asyncio
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.cli.devnet.demo import demo_records
from node.datadir import DataDir
from node.reads import ReadsBusy
from node.web.disclosure import fold_small_groups
from node.web.figures import RECOUNT_AFTER_MS, FigureCounter
from node.web.filters import PageFilter
from protocol.limits import DEFAULT_LIMITS
from protocol.records import verify_record
from storage.store import Store
from tests.conftest import NodeClient, with_stewards
from tests.factories import NETWORK, admit, deployment_body, incident_body, seeded_key, signed
from tests.nodeapp import put
from tests.test_site_home import TODAY, app_with

INCIDENT_CHARTS = ("chart-time", "chart-category", "chart-technology")
CAMERA_CHARTS = ("chart-status", "chart-city")


def chart_sections(page: str) -> dict[str, str]:
    """Each chart's section of the page, by the chart's id."""
    sections = {}
    for part in page.split('<section class="chart-section"')[1:]:
        ident = re.search(r'aria-labelledby="([\w-]+)-heading"', part)
        assert ident is not None
        sections[ident.group(1)] = part.split("</section>")[0]
    return sections


def table(section: str) -> list[tuple[str, str]]:
    """(label, number as shown) of each row of a chart's table, the total last."""
    return re.findall(
        r'<tr><th scope="row">([^<]*)</th><td class="count">([^<]*)</td></tr>', section
    )


def bar_values(section: str) -> list[str]:
    return re.findall(r'<text class="chart-value"[^>]*>([^<]*)</text>', section)


def shown_numbers(section: str) -> list[int]:
    """Every number a chart's table and drawing show."""
    scale = re.findall(r'<text class="chart-scale"[^>]*>([^<]*)</text>', section)
    texts = [text for _, text in table(section)] + bar_values(section) + scale
    return [int(text.replace(",", "")) for text in texts if re.fullmatch(r"[\d,]+", text)]


async def api_groups(client: NodeClient, kind: str, key: str) -> list[tuple[Any, int]]:
    answer = await (await client.get(f"/api/v1/stats?kind={kind}&group_by={key}")).json()
    return [(group[key], group["count"]) for group in answer["groups"]]


async def test_the_tables_and_charts_are_what_the_api_says(client: NodeClient) -> None:
    assert isinstance(client.server, TestServer)
    for number in (1, 2, 3):
        for kind, body in demo_records(number, TODAY):
            await put(client.server, "public", kind, body)
    # One small group: a single incident of its category and technology.
    await put(
        client.server,
        "public",
        "incident",
        incident_body(
            category="harassment",
            technology={"type": "drone"},
            occurred_on={"date": "2026-09-03", "precision": "day"},
        ),
    )
    await put(client.server, "network", "incident", incident_body())  # never counted here
    page = await (await client.get("/stats?lang=en")).text()
    sections = chart_sections(page)
    assert sorted(sections) == sorted(INCIDENT_CHARTS + CAMERA_CHARTS)

    # Cameras: every group as the API counts it, the largest first, and the total.
    for ident, key in (("chart-status", "status"), ("chart-city", "city")):
        groups = await api_groups(client, "deployment", key)
        rows = table(sections[ident])
        assert [int(n) for _, n in rows[:-1]] == sorted((n for _, n in groups), reverse=True)
        assert rows[-1] == ("Total", str(sum(n for _, n in groups)))
        assert bar_values(sections[ident]) == [n for _, n in rows[:-1]]
    assert ("London", "10") in table(sections["chart-city"])

    # Incidents: the API's groups with the small ones folded together.
    for ident, key in (("chart-category", "category"), ("chart-technology", "technology")):
        groups = await api_groups(client, "incident", key)
        folded = fold_small_groups(groups, 3)
        rows = table(sections[ident])
        expected = sorted((n for _, n in folded.shown), reverse=True)
        assert [int(n) for _, n in rows[: len(expected)]] == expected
        assert rows[len(expected)] == ("Other (small groups together)", str(folded.other))
        assert rows[-1] == ("Total", str(sum(n for _, n in groups)))
    assert ("Surveillance of a protest", "15") in table(sections["chart-category"])
    months = dict(await api_groups(client, "incident", "month"))
    time_rows = dict(table(sections["chart-time"]))
    assert {m: int(time_rows[m]) for m in months if months[m] >= 3} == {
        m: n for m, n in months.items() if n >= 3
    }
    assert time_rows["Total"] == "37"


async def test_a_bad_filter_is_named_on_a_page(client: NodeClient) -> None:
    answer = await client.get("/stats?occurred_from=2025-02-30&lang=en")
    assert answer.status == 400
    assert answer.content_type == "text/html"
    assert "occurred_from" in await answer.text()
    # Empty fields, as a submitted form sends them, are no filter at all.
    assert (await client.get("/stats?country=&city=&occurred_to=")).status == 200


@given(
    groups=st.dictionaries(st.text(max_size=3), st.integers(0, 30), max_size=12),
    minimum=st.integers(2, 10),
)
def test_folding_never_shows_a_small_group(groups: dict[str, int], minimum: int) -> None:
    folded = fold_small_groups(list(groups.items()), minimum)
    assert all(count >= minimum for _, count in folded.shown)
    assert folded.total == sum(groups.values())
    assert folded.other == 0 or folded.other >= minimum or not folded.shown
    assert folded.other_shown or folded.total < minimum
    shown = {key for key, _ in folded.shown}
    assert not shown & folded.folded
    assert shown | folded.folded == {key for key, count in groups.items() if count > 0}
    assert sum(groups[key] for key in folded.folded) == folded.other


CATEGORIES = ("harassment", "misidentification", "protest_surveillance", "stop_and_search")
TECHNOLOGIES = ("live_frt", "retrospective_frt", "drone")
MONTHS = ("2025-01", "2025-02", "2025-05", "2026-11")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    incidents=st.lists(
        st.tuples(
            st.sampled_from(CATEGORIES), st.sampled_from(TECHNOLOGIES), st.sampled_from(MONTHS)
        ),
        max_size=14,
    ),
    minimum=st.integers(2, 5),
)
def test_no_incident_group_below_the_minimum_is_ever_shown(
    incidents: list[tuple[str, str, str]], minimum: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        page = asyncio.run(_figures(Path(folder), incidents, minimum))
    sections = chart_sections(page)
    for ident in INCIDENT_CHARTS:
        if ident not in sections:
            continue
        numbers = shown_numbers(sections[ident])
        assert all(n == 0 or n >= minimum for n in numbers), (ident, numbers)
    if 0 < len(incidents) < minimum:
        assert f"fewer than {minimum}" in page


async def _figures(folder: Path, incidents: list[tuple[str, str, str]], minimum: int) -> str:
    data_dir = DataDir(folder / "node")
    key = data_dir.init("banthescan", [])
    with_stewards(data_dir, key.text)
    app = app_with(data_dir, site={"min_incidents_per_cell": minimum})
    async with TestClient(TestServer(app)) as client:
        assert isinstance(client.server, TestServer)
        for category, technology, month in incidents:
            body = incident_body(
                category=category,
                technology={"type": technology},
                occurred_on={"date": f"{month}-15", "precision": "day"},
            )
            await put(client.server, "public", "incident", body)
        answer = await client.get("/stats?lang=en")
        assert answer.status == 200
        return await answer.text()


async def test_the_recount_note_shows_only_for_counts_kept_a_minute(client: NodeClient) -> None:
    note = "recounted at most once a minute"
    summed = await client.get("/stats?lang=en")
    assert summed.status == 200
    assert note not in await summed.text()
    scanned = await client.get("/stats?occurred_from=2025-02-15&lang=en")
    assert scanned.status == 200
    assert note in await scanned.text()


async def test_counts_are_kept_a_minute_and_one_count_runs_at_a_time(store: Store) -> None:
    now = [1_800_000_000_000]
    counter = FigureCounter(lambda: now[0])
    key = seeded_key("figures chapter")
    await admit(store, key.public_key)
    seen = {"observed_on": {"date": "2026-03-20", "precision": "day"}}
    bodies = [
        deployment_body(city="Leeds", **seen),
        deployment_body(city="Leeds", status="confirmed", **seen),
    ]
    records = [
        verify_record(
            signed(key, seq, kind="deployment", body=body),
            network_id=NETWORK,
            limits=DEFAULT_LIMITS,
        )
        for seq, body in enumerate(bodies, start=1)
    ]
    await store.records.ingest(records[:1])
    # A day within a month: only a pass over the records counts it.
    mid_month = PageFilter({"occurred_from": "2026-03-15"})
    everything = PageFilter({})
    first = await counter.figures(store.queries, mid_month)
    assert first.cities == [("Leeds", 1)]
    assert (await counter.figures(store.queries, everything)).cities == [("Leeds", 1)]

    # A new camera: the kept count is answered for a minute, then counted again; what
    # the site's counts (storage.facets) answer is summed afresh at once.
    await store.records.ingest(records[1:])
    assert (await counter.figures(store.queries, mid_month)).cities == [("Leeds", 1)]
    summed = await counter.figures(store.queries, everything)
    assert summed.cities == [("Leeds", 2)]
    assert summed.counted_ms is None  # exact now: the page says nothing of a recount
    assert summed.statuses == [("confirmed", 1), ("reported", 1)]
    now[0] += RECOUNT_AFTER_MS
    again = await counter.figures(store.queries, mid_month)
    assert again.cities == [("Leeds", 2)]
    assert again.statuses == [("confirmed", 1), ("reported", 1)]
    assert again.counted_ms == now[0]

    # While one count runs, a filter never counted is refused as busy, a kept one
    # answered, and one the site's counts answer is summed.
    now[0] += RECOUNT_AFTER_MS
    later = PageFilter({"city": "Leeds", "occurred_to": "2026-03-30"})
    running = asyncio.create_task(counter.figures(store.queries, later))
    await eventually_async(lambda: counter.counting, "the count starts")
    with pytest.raises(ReadsBusy):
        await counter.figures(store.queries, PageFilter({"occurred_to": "2026-03-29"}))
    assert (await counter.figures(store.queries, mid_month)).cities == [("Leeds", 2)]
    assert (await counter.figures(store.queries, everything)).cities == [("Leeds", 2)]
    assert (await running).cities == [("Leeds", 2)]


async def eventually_async(condition: Callable[[], bool], what: str, within_s: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out: {what}"
        await asyncio.sleep(0)
