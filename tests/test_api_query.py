"""GET /api/v1/incidents, /deployments, /stats and /coverage against a real node and SQLite.

Every answer is checked against plain Python over the same generated records.
"""

import datetime
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest

from protocol.keys import key_text
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import STEWARD, deployment_body
from tests.querydata import (
    CHAPTERS,
    Generated,
    Item,
    add_random,
    generate,
    supersede_and_retract,
)
from tests.sitedata import publish
from tests.test_api_import import expect_problem, import_batch

ALL = ("public", "network", "coordinators")
PUBLIC = ("public",)


async def load(client: NodeClient, token: str, items: Sequence[Item]) -> None:
    for start in range(0, len(items), 500):
        batch = [item.record for item in items[start : start + 500]]
        response = await import_batch(client, token, batch)
        assert response.status == 200, await response.text()


@pytest.fixture
async def generated(client: NodeClient, tokens: dict[Role, str]) -> Generated:
    data = generate(300)
    rng = random.Random(9)
    supersede_and_retract(data, rng, 15)
    await load(client, tokens[Role.PUBLISHER], data.items)
    return data


async def get_json(
    client: NodeClient, path: str, params: dict[str, str], token: str | None = None
) -> Any:
    response = await client.get(path, params=params, headers=bearer(token) if token else {})
    assert response.status == 200, await response.text()
    return await response.json()


async def walk(
    client: NodeClient, path: str, params: dict[str, str], token: str | None = None
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await get_json(
            client, path, {**params, **({"cursor": cursor} if cursor else {})}, token
        )
        records.extend(page["records"])
        cursor = page["next_cursor"]
        if cursor is None:
            return records


def iso_week(date: str) -> str:
    year, week, _ = datetime.date.fromisoformat(date).isocalendar()
    return f"{year}-W{week:02d}"


KEYS: dict[str, Callable[[Item], Any]] = {
    "country": lambda i: i.body["country"],
    "city": lambda i: i.body.get("city"),
    "region": lambda i: i.body.get("region"),
    "category": lambda i: i.body["category"],
    "technology": lambda i: i.body["technology"]["type"],
    "agency": lambda i: i.body["agency"]["name"] if "agency" in i.body else None,
    "status": lambda i: i.body["verification"]["status"],
    "origin": lambda i: i.origin.text,
    "month": lambda i: i.body["occurred_on"]["date"][:7],
    "year": lambda i: i.body["occurred_on"]["date"][:4],
    "week": lambda i: iso_week(i.body["occurred_on"]["date"]),
}


def expected_groups(items: list[Item], keys: Sequence[str]) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[Item]] = defaultdict(list)
    for item in items:
        groups[tuple(KEYS[k](item) for k in keys)].append(item)
    rows = []
    for values, members in groups.items():
        dates = [m.body["occurred_on"]["date"] for m in members]
        rows.append(
            {
                **dict(zip(keys, values, strict=True)),
                "count": len(members),
                "chapters": len({m.origin.public_key for m in members}),
                "first": min(dates),
                "last": max(dates),
            }
        )
    return rows


@pytest.mark.parametrize(
    "group_by", ["country,category,month", "agency,week", "origin,year,status", "technology"]
)
@pytest.mark.parametrize("with_token", [False, True])
async def test_stats_match_plain_python_counts(
    client: NodeClient,
    tokens: dict[Role, str],
    generated: Generated,
    group_by: str,
    with_token: bool,
) -> None:
    token = tokens[Role.ANALYST] if with_token else None
    audiences = ALL if with_token else PUBLIC
    answer = await get_json(
        client, "/api/v1/stats", {"group_by": group_by, "kind": "incident"}, token
    )

    items = generated.visible("incident", audiences)
    assert answer["audiences"] == list(audiences)
    keys = group_by.split(",")
    assert sorted(answer["groups"], key=repr) == sorted(expected_groups(items, keys), key=repr)
    assert answer["total"]["count"] == len(items)
    assert answer["total"]["chapters"] == len({i.origin.public_key for i in items})


async def test_stats_with_filters_and_deployments(
    client: NodeClient, tokens: dict[Role, str], generated: Generated
) -> None:
    params = {
        "kind": "deployment",
        "group_by": "country,status",
        "country": "GB,DE",
        "status": "confirmed,reported",
    }
    answer = await get_json(client, "/api/v1/stats", params, tokens[Role.ANALYST])

    items = [
        i
        for i in generated.visible("deployment", ALL)
        if i.body["country"] in ("GB", "DE") and i.body["status"] in ("confirmed", "reported")
    ]
    counts = Counter((i.body["country"], i.body["status"]) for i in items)
    assert {(g["country"], g["status"]): g["count"] for g in answer["groups"]} == counts
    assert answer["total"]["count"] == len(items)


async def test_stats_without_group_by_gives_totals_only(
    client: NodeClient, generated: Generated
) -> None:
    answer = await get_json(client, "/api/v1/stats", {})
    items = generated.visible("incident", PUBLIC)
    assert answer["groups"] == []
    assert answer["total"]["count"] == len(items)
    assert answer["total"]["first"] == min(i.body["occurred_on"]["date"] for i in items)


def incident_matches(item: Item) -> bool:
    body = item.body
    return (
        body["country"] in ("US", "GB")
        and body["category"] in ("harassment", "misidentification")
        and body["verification"]["status"] != "unverified"
        and "2024-06-01" <= body["occurred_on"]["date"] <= "2025-06-30"
        and item.origin in CHAPTERS[:3]
    )


@pytest.mark.parametrize("sort", ["-created", "created", "occurred", "-occurred"])
async def test_incidents_combine_filters_and_sort(
    client: NodeClient, tokens: dict[Role, str], generated: Generated, sort: str
) -> None:
    params = {
        "country": "US,GB",
        "category": "harassment,misidentification",
        "status": "corroborated,verified",
        "occurred_from": "2024-06-01",
        "occurred_to": "2025-06-30",
        "origin": ",".join(k.text for k in CHAPTERS[:3]),
        "sort": sort,
        "limit": "7",
    }
    records = await walk(client, "/api/v1/incidents", params, tokens[Role.ANALYST])

    expected = [i for i in generated.visible("incident", ALL) if incident_matches(i)]
    assert expected, "the generated data should exercise this filter"
    assert sorted(r["id"] for r in records) == sorted(i.id for i in expected)
    field = "created_ms" if sort.endswith("created") else "occurred"
    values = [
        r["created_ms"] if field == "created_ms" else r["body"]["occurred_on"]["date"]
        for r in records
    ]
    assert values == sorted(values, reverse=sort.startswith("-"))


async def test_no_token_sees_public_records_only(
    client: NodeClient, tokens: dict[Role, str], generated: Generated
) -> None:
    public = await walk(client, "/api/v1/incidents", {"limit": "500"})
    everything = await walk(client, "/api/v1/incidents", {"limit": "500"}, tokens[Role.ANALYST])

    assert {r["id"] for r in public} == {i.id for i in generated.visible("incident", PUBLIC)}
    assert {r["id"] for r in everything} == {i.id for i in generated.visible("incident", ALL)}
    page = await get_json(client, "/api/v1/incidents", {"limit": "1"})
    assert page["audiences"] == ["public"]


async def test_superseded_and_retracted_records_never_show(
    client: NodeClient, tokens: dict[Role, str], generated: Generated
) -> None:
    hidden = {i.id for i in generated.items if not i.current}
    shown = {
        r["id"]
        for kind in ("incidents", "deployments")
        for r in await walk(client, f"/api/v1/{kind}", {"limit": "500"}, tokens[Role.ADMIN])
    }
    assert len(hidden) >= 45
    assert not hidden & shown
    newer = [i for i in generated.items if "supersedes" in i.body]
    assert {i.id for i in newer} <= shown


async def test_area_prefix_and_full_text(
    client: NodeClient, tokens: dict[Role, str], generated: Generated
) -> None:
    token = tokens[Role.ANALYST]
    records = await walk(client, "/api/v1/incidents", {"area": "gcpv", "q": "camera"}, token)
    expected = {
        i.id
        for i in generated.visible("incident", ALL)
        if i.body["area"].startswith("gcpv") and "camera" in i.body["summary"].split()
    }
    assert expected
    assert {r["id"] for r in records} == expected

    both = await walk(client, "/api/v1/incidents", {"q": "vans march"}, token)
    words = {"vans", "march"}
    assert {r["id"] for r in both} == {
        i.id for i in generated.visible("incident", ALL) if words <= set(i.body["summary"].split())
    }


@pytest.mark.parametrize(
    "text", ['"unbalanced', "NEAR(", "vans AND", "summary:vans", "*", "^x", "(", "-", "''"]
)
async def test_full_text_syntax_is_plain_words(
    client: NodeClient, generated: Generated, text: str
) -> None:
    page = await get_json(client, "/api/v1/incidents", {"q": text})
    assert isinstance(page["records"], list)


def in_bbox(item: Item, box: tuple[str, str, str, str]) -> bool:
    min_lon, min_lat, max_lon, max_lat = (Decimal(v) * 10_000_000 for v in box)
    lat, lon = item.body["lat_e7"], item.body["lon_e7"]
    lon_in = min_lon <= lon <= max_lon if min_lon <= max_lon else lon >= min_lon or lon <= max_lon
    return bool(min_lat <= lat <= max_lat and lon_in)


@pytest.mark.parametrize(
    "box",
    [
        ("-10.5", "0", "60.25", "75.1234567"),
        ("170", "-80", "-170", "80"),
        ("-180", "-90", "180", "90"),
    ],
)
async def test_deployments_in_a_bounding_box(
    client: NodeClient,
    tokens: dict[Role, str],
    generated: Generated,
    box: tuple[str, str, str, str],
) -> None:
    records = await walk(
        client, "/api/v1/deployments", {"bbox": ",".join(box)}, tokens[Role.ANALYST]
    )
    expected = {i.id for i in generated.visible("deployment", ALL) if in_bbox(i, box)}
    assert expected
    assert {r["id"] for r in records} == expected


async def test_deployments_by_frt_capability(
    client: NodeClient, tokens: dict[Role, str], generated: Generated
) -> None:
    records = await walk(
        client, "/api/v1/deployments", {"frt": "confirmed,suspected"}, tokens[Role.ANALYST]
    )
    expected = {
        i.id
        for i in generated.visible("deployment", ALL)
        if i.body["frt_capability"]["status"] != "unknown"
    }
    assert expected
    assert {r["id"] for r in records} == expected


async def test_pagination_has_no_gaps_or_repeats_while_records_arrive(
    client: NodeClient, tokens: dict[Role, str], generated: Generated
) -> None:
    token = tokens[Role.ANALYST]
    rng = random.Random(11)
    before = {i.id for i in generated.visible("incident", ALL)}
    for sort in ("-created", "occurred"):
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": "13", "sort": sort, **({"cursor": cursor} if cursor else {})}
            page = await get_json(client, "/api/v1/incidents", params, token)
            seen.extend(r["id"] for r in page["records"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
            # New records, some sorting before the cursor and some after it.
            extra = add_random(generated, rng, 4)
            await load(client, tokens[Role.PUBLISHER], extra)
        assert len(seen) == len(set(seen)), "a record was served twice"
        assert before <= set(seen), "a record held from the start was skipped"


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/v1/incidents", {"colour": "red"}, "colour"),
        ("/api/v1/incidents", {"country": "XX"}, "country"),
        ("/api/v1/incidents", {"country": "US,"}, "country"),
        ("/api/v1/incidents", {"occurred_from": "2025-02-30"}, "occurred_from"),
        ("/api/v1/incidents", {"occurred_to": "yesterday"}, "occurred_to"),
        ("/api/v1/incidents", {"created_from": "2025-01-01T00:00:00"}, "created_from"),
        ("/api/v1/incidents", {"area": "gcpvja1"}, "area"),
        ("/api/v1/incidents", {"area": "ai"}, "area"),
        ("/api/v1/incidents", {"bbox": "0,0,1,1"}, "bbox"),
        ("/api/v1/incidents", {"category": "jaywalking"}, "category"),
        ("/api/v1/incidents", {"status": "confirmed"}, "status"),
        ("/api/v1/incidents", {"origin": "ed25519:nope"}, "origin"),
        ("/api/v1/incidents", {"sort": "country"}, "sort"),
        ("/api/v1/incidents", {"limit": "501"}, "limit"),
        ("/api/v1/incidents", {"cursor": "bm9wZQ"}, "cursor"),
        # ["-created", 10**30, 5]: too large for SQLite, still a 400
        (
            "/api/v1/incidents",
            {"cursor": "WyItY3JlYXRlZCIsIDEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAsIDVd"},
            "cursor",
        ),
        ("/api/v1/incidents", {"q": ""}, "q"),
        ("/api/v1/deployments", {"area": "gcpv"}, "area"),
        ("/api/v1/deployments", {"q": "camera"}, "q"),
        ("/api/v1/deployments", {"bbox": "0,0,1"}, "bbox"),
        ("/api/v1/deployments", {"bbox": "181,0,182,1"}, "bbox"),
        ("/api/v1/deployments", {"bbox": "0,10,1,5"}, "bbox"),
        ("/api/v1/deployments", {"bbox": "nan,0,1,1"}, "bbox"),
        ("/api/v1/deployments", {"status": "verified"}, "status"),
        ("/api/v1/stats", {"group_by": "colour"}, "group_by"),
        ("/api/v1/stats", {"kind": "retraction"}, "kind"),
        ("/api/v1/stats", {"group_by": "country", "sort": "created"}, "sort"),
        ("/api/v1/coverage", {"country": "US"}, "country"),
    ],
)
async def test_a_bad_parameter_is_a_problem_naming_it(
    client: NodeClient, path: str, params: dict[str, str], parameter: str
) -> None:
    response = await client.get(path, params=params)
    problem = await expect_problem(response, 400, "bad-parameter", parameter)
    assert problem["parameter"] == parameter


async def test_a_cursor_of_another_sort_is_refused(
    client: NodeClient, generated: Generated
) -> None:
    page = await get_json(client, "/api/v1/incidents", {"limit": "2", "sort": "created"})
    response = await client.get(
        "/api/v1/incidents", params={"cursor": page["next_cursor"], "sort": "-created"}
    )
    await expect_problem(response, 400, "bad-parameter", "cursor")


async def test_an_unknown_token_is_refused(client: NodeClient) -> None:
    for path in ("/api/v1/incidents", "/api/v1/stats", "/api/v1/coverage"):
        response = await client.get(path, headers=bearer("bst_unknown"))
        await expect_problem(response, 401, "unauthorized")


async def test_coverage_lists_every_chapter_with_counts_and_feeds(
    client: NodeClient, tokens: dict[Role, str], generated: Generated
) -> None:
    node_body = {"urls": ["https://one.example.org"], "name": "Chapter One", "city": "Leeds"}
    renamed = dict(node_body, name="Chapter One (renamed)")
    named = [
        generated.add(CHAPTERS[1], "node", "public", node_body, 1_700_000_000_000),
        generated.add(CHAPTERS[1], "node", "public", renamed, 1_790_000_000_000),
    ]
    await load(client, tokens[Role.PUBLISHER], named)

    for token, audiences in ((None, PUBLIC), (tokens[Role.ANALYST], ALL)):
        answer = await get_json(client, "/api/v1/coverage", {}, token)
        assert answer["audiences"] == list(audiences)
        # The test steward, which admitted the chapters, holds records too.
        chapters = {c["origin"]: c for c in answer["chapters"] if c["origin"] != STEWARD.text}
        assert set(chapters) == {k.text for k in CHAPTERS}
        for key in CHAPTERS:
            chapter = chapters[key.text]
            items = [i for i in generated.items if i.origin is key and i.audience in audiences]
            # Retractions are held records too; what they withdrew is not counted.
            counts = Counter(i.kind for i in items if i.current or i.kind == "retraction")
            assert chapter["records"] == dict(counts)
            feeds = {
                (f["audience"], f["max_seq"], f["latest_created_ms"], f["behind"])
                for f in chapter["feeds"]
            }
            by_feed: dict[str, list[Item]] = defaultdict(list)
            for item in items:
                by_feed[item.audience].append(item)
            assert feeds == {
                (a, len(members), members[-1].created_ms, None) for a, members in by_feed.items()
            }
        one = chapters[CHAPTERS[1].text]
        assert (one["name"], one["city"]) == ("Chapter One (renamed)", "Leeds")
        # Without a node record, the name is the one the steward admitted it under.
        assert chapters[CHAPTERS[0].text]["name"] == "Test chapter"
    assert key_text(CHAPTERS[0].public_key) == CHAPTERS[0].text


async def test_stats_filtered_by_frt_capability_count_only_those(client: NodeClient) -> None:
    """The stats rollup holds no FRT capability: a filter on it is counted from the records
    (it was answered from the rollup as if there were no filter)."""
    for status in ("confirmed", "unknown", "confirmed"):
        await publish(
            client.server, "deployment", deployment_body(frt_capability={"status": status})
        )
    answer = await client.get("/api/v1/stats?kind=deployment&frt=confirmed")
    assert (await answer.json())["total"]["count"] == 2
