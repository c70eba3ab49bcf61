"""due_on of records requests: business and calendar days, the shipped table, the
operator's [[deadlines]], and the node filling it in when it publishes."""

import datetime
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.config import ConfigError, load_config
from node.deadlines import SHIPPED_DEADLINES, LawDeadline, add_days, deadline_table, due_on
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import records_request_body
from tests.test_docs import DOCS, section, table_rows


def test_business_days_skip_weekends() -> None:
    friday = datetime.date(2026, 1, 2)
    assert add_days(friday, 1, "business") == datetime.date(2026, 1, 5)  # Monday
    assert add_days(friday, 5, "business") == datetime.date(2026, 1, 9)
    assert add_days(friday, 20, "business") == datetime.date(2026, 1, 30)
    saturday = datetime.date(2026, 1, 3)
    assert add_days(saturday, 1, "business") == datetime.date(2026, 1, 5)
    assert add_days(friday, 10, "calendar") == datetime.date(2026, 1, 12)


@given(st.dates(datetime.date(1990, 1, 1), datetime.date(2100, 1, 1)), st.integers(1, 400))
def test_business_days_land_on_a_weekday_with_the_right_count(
    start: datetime.date, days: int
) -> None:
    end = add_days(start, days, "business")
    assert end.weekday() < 5
    between = (start + datetime.timedelta(days=n) for n in range(1, (end - start).days + 1))
    assert sum(d.weekday() < 5 for d in between) == days


def test_shipped_table_and_unknown_laws() -> None:
    table = deadline_table()
    assert due_on("US-NY FOIL", "2026-01-05", table) == "2026-01-12"  # 5 business days
    assert due_on("US-CA CPRA", "2026-01-05", table) == "2026-01-15"  # 10 calendar days
    assert due_on("US FOIA", "2026-01-05", table) == "2026-02-02"
    assert due_on("AR Ley 27275", "2026-01-05", table) is None  # never guessed


def test_operator_entries_add_and_replace(tmp_path: Path) -> None:
    (tmp_path / "banscan.toml").write_text(
        '[[deadlines]]\nlaw = "US-NJ OPRA"\ndays = 7\n\n'
        '[[deadlines]]\nlaw = "US-NY FOIL"\ndays = 20\nunit = "calendar"\n',
        encoding="utf-8",
    )
    table = deadline_table(load_config(tmp_path, environ={}).deadlines)
    assert due_on("US-NJ OPRA", "2026-01-05", table) == "2026-01-14"
    assert due_on("US-NY FOIL", "2026-01-05", table) == "2026-01-25"
    assert due_on("GB FOIA", "2026-01-05", table) == "2026-02-02"


def test_a_bad_operator_entry_names_its_key(tmp_path: Path) -> None:
    (tmp_path / "banscan.toml").write_text(
        '[[deadlines]]\nlaw = "FOIL"\ndays = 5\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"deadlines\.0\.law"):
        load_config(tmp_path, environ={})


def test_the_shipped_table_is_documented() -> None:
    rows = table_rows(section(DOCS / "configuration.md", "Records-request deadlines").text)
    documented = {
        match.group(1): match.group(2)
        for row in rows
        if (match := re.match(r"\| `([A-Z]{2}[^`]*)` \| (\d+ \w+) days \|", row))
    }
    shipped = {entry.law: f"{entry.days} {entry.unit}" for entry in SHIPPED_DEADLINES}
    assert documented == shipped


async def test_the_node_fills_due_on_when_it_publishes(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    async def publish(body: dict[str, object]) -> dict[str, object]:
        response = await client.post(
            "/api/v1/records",
            json={"kind": "records_request", "audience": "public", "body": body},
            headers=bearer(tokens[Role.PUBLISHER]),
        )
        assert response.status == 201, await response.text()
        published: dict[str, object] = (await response.json())["body"]
        return published

    filled = records_request_body(filed_on="2026-01-05", events=[])
    del filled["due_on"]
    assert (await publish(filled))["due_on"] == "2026-01-12"
    kept = records_request_body(filed_on="2026-01-05", due_on="2026-03-01", events=[])
    assert (await publish(kept))["due_on"] == "2026-03-01"
    unknown = records_request_body(law="AR Ley 27275", filed_on="2026-01-05", events=[])
    del unknown["due_on"]
    assert "due_on" not in await publish(unknown)
    assert LawDeadline(law="US FOIA", days=20).unit == "business"
