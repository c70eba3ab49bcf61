"""Who may publish what: the role x kind table of docs/api.md, posted cell by cell.

``POST /api/v1/records`` signs with the node key, so on a steward's node a
``membership`` record or a ``retraction`` of another chapter's record carries
the steward's powers. Each test here runs a real node (its own steward) over a
real SQLite file, with a real token of each role.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from node.state import NODE_KEY, STORE
from protocol.kinds import KNOWN_KINDS
from storage.tokens import Role
from tests.conftest import NodeClient, bearer
from tests.factories import (
    action_body,
    agency_body,
    deployment_body,
    feed,
    incident_body,
    membership,
    policy_body,
    records_request_body,
    seeded_key,
    vendor_body,
)
from tests.test_api_import import expect_problem, import_batch
from tests.test_docs import DOCS, section, table_rows

RECORDS = "/api/v1/records"
MATRIX = "What each role may publish"
OUTSIDER = seeded_key("roles outsider")
# Row names of the table, and the token each row posts with (None: no token).
ROWS: dict[str, Role | None] = {
    "no token": None,
    "`analyst`": Role.ANALYST,
    "`moderator`": Role.MODERATOR,
    "`publisher`": Role.PUBLISHER,
    "`admin`": Role.ADMIN,
}


def documented_matrix() -> tuple[list[str], dict[str, list[str]]]:
    """The table's column headings (after ``role``) and, per row name, its cells."""
    rows = [
        [cell.strip() for cell in row.strip().strip("|").split("|")]
        for row in table_rows(section(DOCS / "api.md", MATRIX).text)
    ]
    header, _rule, *body = rows
    assert header[0] == "role"
    return header[1:], {cells[0]: cells[1:] for cells in body}


def expected_status(cell: str) -> int:
    if cell == "yes":
        return 201
    refused = re.fullmatch(r"no \((\d{3})\)", cell)
    assert refused is not None, f"docs/api.md: {cell!r} is neither yes nor no (STATUS)"
    return int(refused.group(1))


@dataclass(frozen=True)
class Targets:
    """Records for retractions to name: one this node signed, one another chapter signed."""

    own: str
    others: str

    @classmethod
    async def held(cls, client: NodeClient, tokens: dict[Role, str]) -> "Targets":
        published = await client.post(
            RECORDS,
            json={"kind": "incident", "audience": "public", "body": incident_body()},
            headers=bearer(tokens[Role.ADMIN]),
        )
        assert published.status == 201, await published.text()
        other = feed(seeded_key("roles other chapter"), 1)
        imported = await import_batch(client, tokens[Role.ADMIN], other)
        assert imported.status == 200, await imported.text()
        # Acknowledged, then indexed: the counts below read the index.
        assert await client.app[STORE].records.indexer.caught_up(10)
        return cls((await published.json())["id"], other[0].id.hex())


def retraction(target: str) -> dict[str, Any]:
    return {"target": target, "reason": "error"}


# Each column of the table, as the bodies that stand for it (a kind may need several).
COLUMNS: dict[str, Callable[[Targets], list[tuple[str, dict[str, Any]]]]] = {
    "`incident`": lambda _: [("incident", incident_body())],
    "`deployment`": lambda _: [("deployment", deployment_body())],
    "`node`": lambda _: [("node", {"urls": ["https://roles.example.org"], "name": "Roles"})],
    "`retraction` of a record this node signed": lambda t: [("retraction", retraction(t.own))],
    "`retraction` of any other record": lambda t: [
        ("retraction", retraction(t.others)),
        ("retraction", retraction("ab" * 32)),  # not held: its record may arrive later
    ],
    "`membership`": lambda _: [("membership", membership(OUTSIDER.public_key))],
    "`agency`, `vendor`, `policy`, `records_request`, `action`": lambda _: [
        ("agency", agency_body()),
        ("vendor", vendor_body()),
        ("policy", policy_body()),
        ("records_request", records_request_body()),
        ("action", action_body()),
    ],
}


def test_the_table_has_every_kind_every_role_and_only_known_columns() -> None:
    columns, rows = documented_matrix()
    assert set(columns) == set(COLUMNS)
    assert {kind for column in columns for kind in column.split("`")[1::2]} == set(KNOWN_KINDS)
    assert set(rows) == set(ROWS)
    assert {role for role in ROWS.values() if role is not None} == set(Role)
    assert all(len(cells) == len(columns) for cells in rows.values())


@pytest.mark.parametrize("row", list(ROWS))
async def test_the_node_answers_each_kind_as_the_table_says(
    client: NodeClient, tokens: dict[Role, str], row: str
) -> None:
    columns, rows = documented_matrix()
    targets = await Targets.held(client, tokens)
    role = ROWS[row]
    headers = {} if role is None else bearer(tokens[role])
    for column, cell in zip(columns, rows[row], strict=True):
        for kind, body in COLUMNS[column](targets):
            before = await held_count(client)
            response = await client.post(
                RECORDS, json={"kind": kind, "audience": "public", "body": body}, headers=headers
            )
            status = expected_status(cell)
            assert response.status == status, (row, column, await response.text())
            if status == 201:
                assert await held_count(client) == before + 1
                continue
            code = {401: "unauthorized", 403: "forbidden"}[status]
            await expect_problem(response, status, code)
            assert await held_count(client) == before, (row, column)


async def held_count(client: NodeClient) -> int:
    return sum(count for _, _, count in await client.app[STORE].records.counts())


async def test_a_publisher_on_a_steward_node_cannot_admit_keys_or_withdraw_others_records(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    store = client.app[STORE]
    assert client.app[NODE_KEY].public_key in store.trust.stewards
    targets = await Targets.held(client, tokens)
    publisher = bearer(tokens[Role.PUBLISHER])

    for audience in ("public", "network", "coordinators"):
        admitted = await client.post(
            RECORDS,
            json={
                "kind": "membership",
                "audience": audience,
                "body": membership(OUTSIDER.public_key, role="coordinator"),
            },
            headers=publisher,
        )
        await expect_problem(admitted, 403, "forbidden", "membership", "banscan members")
    withdrawn = await client.post(
        RECORDS,
        json={"kind": "retraction", "audience": "public", "body": retraction(targets.others)},
        headers=publisher,
    )
    await expect_problem(withdrawn, 403, "forbidden", "admin", "publisher")

    assert store.trust.member(OUTSIDER.public_key) is None
    held = await store.records.get(bytes.fromhex(targets.others))
    assert held is not None
    assert not held.erased


async def test_an_admin_token_cannot_publish_membership_either(
    client: NodeClient, tokens: dict[Role, str]
) -> None:
    response = await client.post(
        RECORDS,
        json={"kind": "membership", "audience": "public", "body": membership(OUTSIDER.public_key)},
        headers=bearer(tokens[Role.ADMIN]),
    )
    await expect_problem(response, 403, "forbidden", "banscan members")
    assert client.app[STORE].trust.member(OUTSIDER.public_key) is None


@pytest.mark.parametrize(
    "body",
    [
        {"target": "not hex", "reason": "error"},
        {"target": ["ab" * 32], "reason": "error"},
        {"reason": "error"},
        ["ab" * 32],
        "retraction",
    ],
)
async def test_a_malformed_retraction_is_invalid_for_a_publisher_not_forbidden(
    client: NodeClient, tokens: dict[Role, str], body: Any
) -> None:
    response = await client.post(
        RECORDS,
        json={"kind": "retraction", "audience": "public", "body": body},
        headers=bearer(tokens[Role.PUBLISHER]),
    )
    await expect_problem(response, 422, "invalid-body")


@pytest.mark.parametrize("kind", [["membership"], {"k": 1}, 7, None, "petition"])
async def test_a_kind_that_is_not_a_known_name_is_invalid_not_a_crash(
    client: NodeClient, tokens: dict[Role, str], kind: Any
) -> None:
    response = await client.post(
        RECORDS,
        json={"kind": kind, "audience": "public", "body": {}},
        headers=bearer(tokens[Role.PUBLISHER]),
    )
    await expect_problem(response, 422, "invalid-body")
