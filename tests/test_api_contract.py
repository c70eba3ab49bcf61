"""The served OpenAPI document is no looser than the node (issue 13, defect 6).

Schemathesis generates only requests the document allows (its positive phase)
for every operation with a JSON, form or query input, and sends them to a real
node on 127.0.0.1. Each must be answered without a 4xx, except the refusals
listed in :data:`ALLOWED_REFUSALS`: authentication and CSRF, ids and receipts
the node does not hold, rate limits, and the few checks JSON Schema cannot
express (one parameter compared with another, a date against today, a cursor
the node did not issue). Every answer must also match the document.

The suite runs 40 examples per operation; set ``TESTS_FUZZ_EXAMPLES`` (400
finds nothing either, in about four minutes) for a longer run.
"""

import html
import json
import os
import re
from collections import Counter
from typing import Any
from urllib.parse import quote

import msgpack
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_schema_validator import OAS31Validator
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Ok

from node import __version__
from node.api.openapi import openapi_document
from storage.tokens import Role
from tests.factories import seeded_key, signed
from tests.test_api_fuzz import (
    FUZZ_KEYS,
    LiveNode,
    documented_operations,
    live_node,
    served_document,
)

__all__ = ["live_node", "served_document"]

# Bodies of raw msgpack, which JSON Schema cannot describe: these operations are
# fuzzed with signed and damaged batches in tests/test_api_fuzz.py and tests/test_federation*.
MSGPACK_OPERATIONS = frozenset(
    {
        "POST /api/v1/records/import",
        "POST /federation/v1/sync",
        "POST /federation/v1/records",
        "POST /federation/v1/push",
        "POST /federation/v1/public/sync",
        "POST /federation/v1/public/records",
    }
)

_ANY = re.compile(".*", re.DOTALL)
# A filter the node compares with another parameter: JSON Schema has no way to say it.
_CROSS_PARAMETER = re.compile(
    r"^(occurred_to: is before occurred_from"
    r"|created_to: is before created_from"
    r"|date_to: is before date_from"
    r"|due_to: is before due_from"
    r"|bbox: min_lat is greater than max_lat"
    r"|bbox: (latitudes|longitudes) must be from -\d+ to \d+, min below max"
    r"|(bbox|frt|area|q|category|technology): does not apply to (incident|deployment) records"
    r"|status: '[a-z_]+' is not one of .*"
    r"|group_by: names a key twice)$"
)
# JSON Schema's "integer" admits 5.0; signed bodies are strict and take only 5.
_WHOLE_FLOAT = re.compile(r"^[a-z]+ body is invalid: ([a-z0-9_.]+: must be an integer(; |$))+$")
_OPAQUE_CURSOR = re.compile(r"^cursor: not a cursor this node issued( for this sort)?$")

# Operation -> (status, pattern the problem's "parameter: detail" or detail matches).
ALLOWED_REFUSALS: dict[str, tuple[tuple[int, re.Pattern[str]], ...]] = {
    # Only ids the node holds are found.
    "GET /api/v1/records/{id}": ((404, _ANY),),
    # Only the files the node ships, and the basemap files the operator placed, are found.
    "GET /static/{name}": ((404, _ANY),),
    "GET /basemap/{name}": ((404, _ANY),),
    "GET /basemap/fonts/{fontstack}/{range}": ((404, _ANY),),
    "GET /basemap/sprites/{name}": ((404, _ANY),),
    # Pages of records only the node holds (an HTML page, so no problem detail to match).
    "GET /deployments/{id}": ((404, _ANY),),
    "GET /incidents/{id}": ((404, _ANY),),
    "GET /deployments/{id}/bundle": ((404, _ANY),),
    "GET /incidents/{id}/bundle": ((404, _ANY),),
    "GET /api/v1/submissions/{submission_id}": ((404, _ANY),),
    "POST /api/v1/submissions/{submission_id}/publish": ((404, _ANY),),
    "POST /api/v1/submissions/{submission_id}/retract": ((404, _ANY),),
    # Cross-parameter checks, and cursors only the node can issue.
    "GET /api/v1/records": ((400, _OPAQUE_CURSOR),),
    "GET /api/v1/incidents": ((400, _CROSS_PARAMETER), (400, _OPAQUE_CURSOR)),
    "GET /api/v1/deployments": ((400, _CROSS_PARAMETER), (400, _OPAQUE_CURSOR)),
    "GET /api/v1/stats": ((400, _CROSS_PARAMETER),),
    # An export takes the filters of the kind it names: the document lists every kind's.
    "GET /api/v1/export": (
        (400, _CROSS_PARAMETER),
        (400, re.compile(r"^[a-z_]+: unknown parameter; use .*$")),
        (400, re.compile(r"^format: [a-z_]+ records have no place on a map: no geojson$")),
    ),
    **{
        f"GET /api/v1/{plural}": ((400, _CROSS_PARAMETER), (400, _OPAQUE_CURSOR))
        for plural in ("agencies", "vendors", "policies", "requests", "actions", "actions/osdi")
    },
    # A tile's column and row are below 2**z; a view's west is less than its east.
    "GET /tiles/{z}/{x}/{y}.mvt": (
        (400, re.compile(r"^(x|y): must be a whole number from 0 to [0-9]+$")),
        (400, _CROSS_PARAMETER),
    ),
    "GET /tiles/data.geojson": (
        (400, re.compile(r"^bbox: west < east within -180\.\.180 and south < north .*")),
        (400, _CROSS_PARAMETER),
    ),
    # The map's view: west below east, south below north (no view crosses the antimeridian).
    "GET /map": ((400, _CROSS_PARAMETER),),
    # The figures page's and the list pages' dates in order, as the API's.
    "GET /stats": ((400, _CROSS_PARAMETER),),
    "GET /incidents": ((400, _CROSS_PARAMETER),),
    "GET /deployments": ((400, _CROSS_PARAMETER),),
    "GET /embed/map": ((400, _CROSS_PARAMETER),),
    # Membership records come only from the CLI on the node's host (docs/api.md).
    "POST /api/v1/records": (
        (422, _WHOLE_FLOAT),
        # A request's and an action's dates in order, which a schema cannot say.
        (
            422,
            re.compile(
                r"^(records_request body is invalid: body: "
                r"(due_on|an event) must not be (dated )?before filed_on"
                r"|action body is invalid: body: closes_on must not be before opens_on)$"
            ),
        ),
        # A law's name ends at a line break, which Python's "$" (what the fuzzer's
        # patterns compile to) still matches before.
        (
            422,
            re.compile(
                r"^records_request body is invalid: law: must be a jurisdiction code, "
                r"a space and the law's name \(US-NY FOIL\)$"
            ),
        ),
        (403, re.compile(r"^no token may publish a membership record")),
    ),
    # Reports and receipt checks are rate limited per client; receipts are unknown;
    # a report's day may be no later than tomorrow, which a schema cannot say.
    "POST /api/v1/submissions": (
        (429, _ANY),
        (422, re.compile(r"^the submission is invalid: occurred_on: is in the future$")),
    ),
    "POST /api/v1/submissions/status": ((404, _ANY), (429, _ANY)),
    "POST /api/v1/submissions/answer": ((404, _ANY), (429, _ANY)),
    "POST /report/answer": ((403, _ANY), (429, _ANY)),
    # The desk's routes name submissions and records this node may not hold.
    **{
        f"{method} /api/v1/submissions/{{submission_id}}/{action}": (
            (404, re.compile(r"^no submission 'sub_[a-z2-7]{16}' on this node$")),
        )
        for method, action in (
            ("GET", "candidates"),
            ("GET", "history"),
            ("POST", "ask"),
            ("POST", "claim"),
            ("POST", "notes"),
            ("POST", "release"),
        )
    },
    "POST /api/v1/submissions/duplicate": (
        (
            422,
            re.compile(
                r"^of: \S+ (is not a submission or record on this node"
                r"|is among the ids; a report cannot duplicate itself)$"
            ),
        ),
    ),
    # An agency the node does not hold (its page is HTML).
    "GET /agencies/{id}": ((404, _ANY),),
    # The report form's CSRF token comes from the form page (docs/api.md).
    "POST /report": ((403, _ANY), (429, _ANY)),
    "POST /report/status": ((403, _ANY), (429, _ANY)),
}


def _refusal(response: Any) -> str:
    """The problem's "parameter: detail" (or detail), an HTML error page's detail, or the
    start of another body."""
    try:
        problem = response.json()
    except ValueError:
        text = bytes(response.content).decode("utf-8", "replace")
        shown = re.search(r'<p class="error-detail"><strong>[^<]*</strong> ([^<]*)</p>', text)
        return html.unescape(shown.group(1)) if shown else text[:200]
    detail = str(problem.get("detail", ""))
    parameter = problem.get("parameter")
    return f"{parameter}: {detail.removeprefix(f'{parameter}: ')}" if parameter else detail


def allowed(label: str, status: int, refusal: str) -> bool:
    return any(
        status == expected and pattern.match(refusal)
        for expected, pattern in ALLOWED_REFUSALS.get(label, ())
    )


def fuzz_positive(node: LiveNode, operations: list[Any], examples: int) -> Counter[str]:
    """Send ``examples`` valid requests per operation; the refusals not allowed, counted."""
    headers = {"Authorization": f"Bearer {node.tokens[Role.ADMIN]}"}
    mismatches: Counter[str] = Counter()
    # The function hypothesis runs keeps its source (and so, derandomized, the requests it
    # generates) as when one test fuzzed every operation in one loop.
    for operation in operations:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        def fuzz(case: schemathesis.Case[Any]) -> None:
            response = case.call(base_url=node.url, headers=headers)
            case.validate_response(
                response,
                checks=[
                    checks.not_a_server_error,
                    checks.status_code_conformance,
                    checks.content_type_conformance,
                    checks.response_schema_conformance,
                ],
            )
            status = response.status_code
            if 400 <= status < 500:
                refusal = _refusal(response)
                if not allowed(case.operation.label, status, refusal):
                    mismatches[f"{case.operation.label} {status} {refusal[:120]!r}"] += 1

        fuzz()
    return mismatches


# One test an operation (but the msgpack ones), so that pytest-xdist's workers share
# them (they took a minute as one test), from the document this checkout builds; the
# served one must give the same (test_every_operation_is_fuzzed).
OPERATIONS = sorted(documented_operations(openapi_document(__version__)) - MSGPACK_OPERATIONS)


@pytest.fixture(scope="module")
def operations(served_document: dict[str, Any]) -> dict[str, Any]:
    """The operations of the served document, by label."""
    found = {}
    for result in schemathesis.openapi.from_dict(served_document).get_all_operations():
        assert isinstance(result, Ok), result
        found[result.ok().label] = result.ok()
    return found


def test_every_operation_is_fuzzed(
    served_document: dict[str, Any], operations: dict[str, Any]
) -> None:
    assert set(operations) == documented_operations(served_document)
    assert set(OPERATIONS) == set(operations) - MSGPACK_OPERATIONS
    assert set(operations) >= MSGPACK_OPERATIONS


@pytest.mark.parametrize("label", OPERATIONS)
def test_every_request_the_document_allows_is_accepted(
    live_node: LiveNode, operations: dict[str, Any], label: str
) -> None:
    """40 examples a write, 20 a read (the reads share one filter parser, and drawing
    their many parameters was most of the module's time); TESTS_FUZZ_EXAMPLES=400 for a
    run at length (every operation)."""
    examples = int(
        os.environ.get("TESTS_FUZZ_EXAMPLES", "20" if label.startswith("GET ") else "40")
    )
    assert fuzz_positive(live_node, [operations[label]], examples=examples) == Counter()


def test_the_largest_values_the_document_allows_are_accepted(live_node: LiveNode) -> None:
    """Found by the fuzzer: `after` up to 2**62 (19 digits) and `retention_days` 30.0."""
    admin = {"Authorization": f"Bearer {live_node.tokens[Role.ADMIN]}"}
    status, _, data = live_node.request("GET", f"/api/v1/audit?after={2**62}", headers=admin)
    assert status == 200, data
    status, _, _ = live_node.request("GET", f"/api/v1/audit?after={2**62 + 1}", headers=admin)
    assert status == 400
    body = json.dumps({"retention_days": 3650.0}).encode()
    json_admin = {**admin, "Content-Type": "application/json"}
    status, _, data = live_node.request("POST", "/api/v1/submissions/purge", body, json_admin)
    assert status == 200, data
    body = json.dumps({"retention_days": 1.5}).encode()
    status, _, _ = live_node.request("POST", "/api/v1/submissions/purge", body, json_admin)
    assert status == 400


@pytest.mark.parametrize(
    ("path", "parameter", "value"),
    [
        ("/api/v1/incidents", "country", ""),
        ("/api/v1/incidents", "city", " "),
        ("/api/v1/records", "cursor", ""),
        ("/api/v1/deployments", "bbox", "0,91,1,1"),
        ("/api/v1/stats", "group_by", "country,"),
        ("/api/v1/incidents", "created_from", "2026-02-30T00:00:00Z"),
    ],
)
def test_values_the_node_refuses_the_document_refuses_too(
    live_node: LiveNode, served_document: dict[str, Any], path: str, parameter: str, value: str
) -> None:
    status, _, _ = live_node.request("GET", f"{path}?{parameter}={quote(value)}")
    assert status == 400
    parameters = served_document["paths"][path]["get"]["parameters"]
    (schema,) = (p["schema"] for p in parameters if p["name"] == parameter)
    assert not OAS31Validator(schema).is_valid(value)


def test_a_revocation_time_too_large_to_store_is_refused_not_a_server_error(
    live_node: LiveNode,
) -> None:
    """Found by the fuzzer: compromised_since_ms of 2**63 or more was a 500 (it cannot be
    stored). Membership records now come only from the CLI, but peers' still arrive."""
    headers = {
        "Authorization": f"Bearer {live_node.tokens[Role.ADMIN]}",
        "Content-Type": "application/msgpack",
    }
    for since in (2**63, 2**64 - 1):
        body = {
            "subject": "ed25519:o-GqCIgXn0KvuPG0rtmRCTqN3R-loyvhcBM79lBG188",
            "action": "revoke",
            "role": "chapter",
            "name": "gone",
            "compromised_since_ms": since,
        }
        record = signed(seeded_key(FUZZ_KEYS[0]), 1, body=body, kind="membership")
        batch = msgpack.packb([record.to_wire()], use_bin_type=True)
        status, _, data = live_node.request("POST", "/api/v1/records/import", batch, headers)
        assert status == 422, data
        assert b"compromised_since_ms" in data
