"""The lists of deployments and incidents on a real node: newest first, filtered by the
shared filter, paged by keyset without gaps or repeats, counted, public records only,
and incidents never located by their area cell."""

import html
import re
from collections.abc import Awaitable, Callable

from node.state import STORE
from storage.filters import QueryFilter, where_clause
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import deployment_body, incident_body
from tests.sitedata import publish

ROW_LINK = re.compile(r'<h3><a href="/(?:deployments|incidents)/([0-9a-f]{64})\?lang=en">')
NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


async def page_text(client: NodeClient, url: str, status: int = 200, **kwargs: object) -> str:
    response = await client.get(url, **kwargs)  # type: ignore[arg-type]
    assert response.status == status, await response.text()
    assert response.content_type == "text/html"
    return await response.text()


async def walk(
    client: NodeClient, url: str, between: Callable[[], Awaitable[None]] | None = None
) -> list[str]:
    """Every row id, following the Next links; ``between`` runs after the first page."""
    seen: list[str] = []
    while True:
        text = await page_text(client, url)
        seen += ROW_LINK.findall(text)
        if between is not None:
            await between()
            between = None
        found = NEXT.search(text)
        if found is None:
            return seen
        url = html.unescape(found.group(1))


CITIES = ("Berlin", "Madrid", "Lagos")
STATUSES = ("reported", "confirmed", "removed")
FRT = ("confirmed", "suspected", "unknown")


async def test_deployments_page_newest_first_without_gaps_or_repeats(client: NodeClient) -> None:
    published = []
    for n in range(120):
        body = deployment_body(
            city=CITIES[n % 3],
            country="DE",
            status=STATUSES[n % 3],
            frt_capability={"status": FRT[n % 3]},
            lat_e7=520_000_000 + n,
        )
        published.append(await publish(client.server, "deployment", body))
    late: list[str] = []

    async def publish_more() -> None:
        for n in range(5):
            late.append(
                await publish(client.server, "deployment", deployment_body(lat_e7=n, country="DE"))
            )

    seen = await walk(client, "/deployments?lang=en", publish_more)
    assert len(seen) == len(set(seen))
    assert seen == published[::-1]  # records arriving mid-walk are on the first page, not later
    first = await page_text(client, "/deployments?lang=en")
    assert "125 cameras and systems match" in first
    assert ROW_LINK.findall(first)[:5] == late[::-1]


async def test_filters_select_and_count(client: NodeClient) -> None:
    expected: dict[tuple[str, str, str], list[str]] = {}
    for n in range(30):
        key = (CITIES[n % 3], STATUSES[n % 2], FRT[n % 3])
        body = deployment_body(
            city=key[0], country="ES", status=key[1], frt_capability={"status": key[2]}
        )
        expected.setdefault(key, []).append(await publish(client.server, "deployment", body))
    await publish(client.server, "deployment", deployment_body(city="Berlin", country="DE"))
    Key = tuple[str, str, str]
    cases: dict[str, Callable[[Key], bool]] = {
        "city=Madrid": lambda k: k[0] == "Madrid",
        "status=confirmed": lambda k: k[1] == "confirmed",
        "frt=confirmed&country=ES": lambda k: k[2] == "confirmed",
        "city=Madrid&status=reported&frt=suspected": lambda k: (
            k == ("Madrid", "reported", "suspected")
        ),
    }
    for query, wanted in cases.items():
        ids = sorted(i for key, got in expected.items() if wanted(key) for i in got)
        seen = await walk(client, f"/deployments?{query}&lang=en")
        assert sorted(seen) == ids, query
        text = await page_text(client, f"/deployments?{query}&lang=en")
        noun = "camera or system matches" if len(ids) == 1 else "cameras and systems match"
        assert f"{len(ids)} {noun}" in text, query
    # The form shows the filter it applied.
    text = await page_text(client, "/deployments?city=Madrid&frt=confirmed&lang=en")
    assert 'value="Madrid"' in text
    assert '<option value="confirmed" selected>' in text


async def test_incidents_list_names_places_never_area_cells(client: NodeClient) -> None:
    record_id = await publish(
        client.server, "incident", incident_body(area="gcpvj0", summary="A stop. " * 100)
    )
    text = await page_text(client, "/incidents?lang=en")
    assert f"/incidents/{record_id}?lang=en" in text
    assert "New York, NY, United States" in text
    assert "gcpvj0" not in text
    assert "gcpvj" not in text
    assert "1 incident matches" in text
    assert "A stop. A stop." in text
    assert "…" in text
    category = await page_text(client, "/incidents?category=harassment&lang=en")
    assert "0 incidents match" in category
    assert "No incidents match this filter" in category
    assert 'href="/incidents?lang=en">Clear the filter' in category


async def test_empty_lists_say_what_to_do(client: NodeClient) -> None:
    text = await page_text(client, "/deployments?lang=en")
    assert "No cameras or systems have been published here yet." in text
    assert 'href="/report?lang=en"' in text
    spanish = await page_text(client, "/incidents?lang=es")
    assert "Todavía no se ha publicado aquí ningún incidente." in spanish


async def test_only_public_records_are_listed_whoever_asks(client: NodeClient) -> None:
    admin = await client.app[STORE].tokens.create(Role.ADMIN, "admin")
    public = await publish(client.server, "incident", incident_body())
    for audience in ("network", "coordinators"):
        await publish(client.server, "incident", incident_body(summary="Secret."), audience)
    for headers in (None, bearer(admin), {"Cookie": "session=admin"}):
        text = await page_text(client, "/incidents?lang=en", headers=headers)
        assert ROW_LINK.findall(text) == [public]
        assert "Secret." not in text
        assert "1 incident matches" in text


async def test_bad_parameters_are_400_pages_naming_them(client: NodeClient) -> None:
    for query, named in (
        ("after=yesterday", "after"),
        ("after=1.x", "after"),
        ("colour=red", "colour"),
        ("frt=maybe", "frt"),
        ("occurred_from=2025-13-01", "occurred_from"),
    ):
        text = await page_text(client, f"/deployments?{query}&lang=en", 400)
        assert f"{named}:" in html.unescape(text), query


async def test_a_one_kind_filter_on_the_other_kind_matches_nothing(client: NodeClient) -> None:
    await publish(client.server, "incident", incident_body())
    text = await page_text(client, "/incidents?frt=confirmed&lang=en")
    assert "0 incidents match" in text


async def test_counts_stop_at_the_cap_and_filters_use_their_own_index(
    client: NodeClient,
) -> None:
    """A count reads at most ``cap`` matches; a page filtered by a rare city walks the
    city's index, not every record in created order (SQLite has no statistics here)."""
    for n in range(5):
        await publish(client.server, "deployment", deployment_body(city="Rare", lat_e7=n))
    queries = client.app[STORE].queries
    city = QueryFilter("deployment", ("public",), cities=("Rare",), statuses=("reported",))
    assert await queries.count_up_to(city, 3) == 3
    assert await queries.count_up_to(city, 100) == 5
    orders = {
        "records_current_city": city,
        "records_current_status": QueryFilter("deployment", ("public",), statuses=("removed",)),
        "records_current_frt": QueryFilter("deployment", ("public",), frt=("confirmed",)),
        "records_current_country": QueryFilter(
            "deployment", ("public",), countries=("ES",), frt=("confirmed",)
        ),
    }
    for index, query in orders.items():
        where, params = where_clause(query)
        order = "ORDER BY r.created_ms DESC, r.rid DESC"
        sql = f"SELECT r.rid FROM records r WHERE {where} {order} LIMIT 51"
        plan = await client.app[STORE].db.reader.execute_fetchall(
            "EXPLAIN QUERY PLAN " + sql, params
        )
        details = " | ".join(row[3] for row in plan)
        assert f"USING INDEX {index} " in details, details
        assert "TEMP B-TREE" not in details, details
