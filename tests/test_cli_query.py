"""``banscan query`` and ``banscan stats`` over a data directory's database."""

import asyncio
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from node.cli import main
from node.datadir import DataDir
from protocol.limits import DEFAULT_LIMITS
from protocol.records import verify_record
from tests.conftest import node_store
from tests.factories import NETWORK, admit
from tests.querydata import CHAPTERS, Generated, generate, supersede_and_retract

ALL = ("public", "network", "coordinators")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Generated]:
    directory = tmp_path_factory.mktemp("cli-query") / "node"
    DataDir(directory).init(NETWORK, [])
    data = generate(200, seed=3)
    supersede_and_retract(data, random.Random(4), 10)

    async def load() -> None:
        key = DataDir(directory).load_key()  # the node's own key: it is its own steward
        async with node_store(directory) as store:
            await admit(store, *(chapter.public_key for chapter in CHAPTERS), steward=key)
            records = [
                verify_record(i.record, network_id=NETWORK, limits=DEFAULT_LIMITS)
                for i in data.items
            ]
            await store.records.ingest(records)

    asyncio.run(load())
    return directory, data


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_stats_json_matches_plain_python(
    seeded: tuple[Path, Generated], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, data = seeded
    status, out, _ = run(
        capsys,
        "stats",
        "--data-dir",
        str(directory),
        "--group-by",
        "country,category",
        "--country",
        "GB,US",
        "--json",
    )
    assert status == 0
    answer = json.loads(out)
    items = [i for i in data.visible("incident", ALL) if i.body["country"] in ("GB", "US")]
    expected = Counter((i.body["country"], i.body["category"]) for i in items)
    assert {(g["country"], g["category"]): g["count"] for g in answer["groups"]} == expected
    assert answer["total"]["count"] == len(items)
    assert answer["audiences"] == list(ALL)


def test_stats_table_is_aligned_with_a_total(
    seeded: tuple[Path, Generated], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, data = seeded
    status, out, _ = run(
        capsys,
        "stats",
        "--data-dir",
        str(directory),
        "--kind",
        "deployment",
        "--group-by",
        "status",
    )
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["status", "count", "chapters", "first", "last"]
    assert set(lines[1]) <= {"-", " "}
    counts = Counter(i.body["status"] for i in data.visible("deployment", ALL))
    rows = {line.split()[0]: int(line.split()[1]) for line in lines[2:]}
    assert rows == {**counts, "total": sum(counts.values())}
    # Every count ends in the same column.
    ends = {
        line.index(str(rows[line.split()[0]])) + len(str(rows[line.split()[0]]))
        for line in lines[2:]
    }
    assert len(ends) == 1


def test_query_filters_like_the_api(
    seeded: tuple[Path, Generated], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, data = seeded
    status, out, _ = run(
        capsys,
        "query",
        "--data-dir",
        str(directory),
        "--kind",
        "incident",
        "--country",
        "DE",
        "--status",
        "verified,corroborated",
        "--sort",
        "occurred",
        "--limit",
        "1000",
        "--json",
    )
    assert status == 0
    records = json.loads(out)["records"]
    expected = {
        i.id
        for i in data.visible("incident", ALL)
        if i.body["country"] == "DE" and i.body["verification"]["status"] != "unverified"
    }
    assert expected
    assert {r["id"] for r in records} == expected
    dates = [r["body"]["occurred_on"]["date"] for r in records]
    assert dates == sorted(dates)


def test_query_table_lists_rows_and_says_when_limited(
    seeded: tuple[Path, Generated], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, _ = seeded
    status, out, _ = run(
        capsys, "query", "--data-dir", str(directory), "--kind", "deployment", "--limit", "3"
    )
    assert status == 0
    lines = out.splitlines()
    headers = ["id", "observed", "country", "city", "operator", "status", "lat", "lon"]
    assert lines[0].split() == headers
    assert len(lines) == 2 + 3 + 1
    assert lines[-1] == "3 deployment record(s) (--limit reached)"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (("query", "--kind", "incident", "--country", "XX"), "--country"),
        (("query", "--kind", "deployment", "--text", "vans"), "--text"),
        (("query", "--kind", "deployment", "--bbox", "1,2,3"), "--bbox"),
        (("query", "--kind", "incident", "--occurred-from", "2025-13-01"), "--occurred-from"),
        (("query", "--kind", "incident", "--limit", "0"), "--limit"),
        (("stats", "--group-by", "colour"), "--group-by"),
        (("stats", "--campaign", "--country", "GB"), "--campaign"),
    ],
)
def test_a_bad_option_is_named(
    seeded: tuple[Path, Generated],
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    named: str,
) -> None:
    directory, _ = seeded
    status, out, err = run(capsys, *argv, "--data-dir", str(directory))
    assert status == 2
    assert out == ""
    assert err.startswith(f"banscan: error: {named}"), err
