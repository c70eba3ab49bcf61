"""The campaign kinds' schemas: what they refuse, and round trips of generated bodies."""

import datetime
from typing import Any, get_args

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.campaign import Policy, PolicyStatus, RequestStatus
from protocol.countries import COUNTRY_CODES
from protocol.errors import BodySchemaError
from protocol.kinds import decode_body, encode_body, validate_body
from tests.factories import (
    action_body,
    agency_body,
    deployment_body,
    incident_body,
    policy_body,
    records_request_body,
)


def refused(kind: str, body: dict[str, Any], *fragments: str) -> None:
    with pytest.raises(BodySchemaError) as caught:
        validate_body(kind, body)
    for fragment in fragments:
        assert fragment in caught.value.detail


@pytest.mark.parametrize("status", [s for s in get_args(PolicyStatus) if s != "not_recorded"])
def test_a_policy_status_needs_evidence(status: str) -> None:
    refused("policy", policy_body(status=status, evidence=[]), "needs evidence")
    assert isinstance(validate_body("policy", policy_body(status=status)), Policy)


def test_not_recorded_needs_no_evidence_and_evidence_needs_its_hash() -> None:
    validate_body("policy", policy_body(status="not_recorded", evidence=[]))
    refused("policy", policy_body(evidence=[{"url": "https://example.org/x"}]), "sha256")


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("records_request", records_request_body(requester="Jane Doe"), "requester"),
        ("records_request", records_request_body(email="jane@example.org"), "email"),
        ("action", action_body(supporters=120), "supporters"),
        ("action", action_body(signatures=[{"name": "Jane"}]), "signatures"),
    ],
)
def test_no_person_can_be_named(kind: str, body: dict[str, Any], field: str) -> None:
    refused(kind, body, field, "not a field of this schema")


@pytest.mark.parametrize(
    ("kind", "body", "fragment"),
    [
        ("agency", agency_body(jurisdiction={"code": "XX-NY"}), "ISO 3166-2"),
        ("agency", agency_body(jurisdiction={"code": "US-LONG"}), "ISO 3166-2"),
        ("agency", agency_body(jurisdiction={"code": "us"}), "ISO 3166-2"),
        ("agency", agency_body(type="army"), "type"),
        ("agency", agency_body(wikidata="328473"), "wikidata"),
        ("agency", agency_body(parent="NYPD"), "parent"),
        ("records_request", records_request_body(law="FOIL"), "law"),
        ("records_request", records_request_body(status="lost"), "status"),
        ("records_request", records_request_body(due_on="2025-12-31"), "due_on"),
        ("records_request", records_request_body(filed_on="2026-02-30"), "filed_on"),
        ("action", action_body(opens_on="2026-02-01", closes_on="2026-01-01"), "closes_on"),
        ("action", action_body(url="javascript:alert(1)"), "url"),
        ("incident", incident_body(agency={"name": "NYPD", "record": "x"}), "record"),
        ("deployment", deployment_body(agency={"record": "ab" * 32}), "name"),
    ],
)
def test_refusals_name_the_field(kind: str, body: dict[str, Any], fragment: str) -> None:
    refused(kind, body, fragment)


def test_old_incident_and_deployment_bodies_stay_valid_and_byte_identical() -> None:
    for kind, body in (("incident", incident_body()), ("deployment", deployment_body())):
        raw = msgpack.packb(body, use_bin_type=True)
        assert b"record" not in encode_body(decode_body(kind, raw))


_dates = st.dates(datetime.date(1990, 1, 1), datetime.date(2100, 1, 1))
_regions = st.tuples(
    st.sampled_from(sorted(COUNTRY_CODES)),
    st.one_of(st.none(), st.from_regex(r"[A-Z0-9]{1,3}", fullmatch=True)),
).map(lambda t: t[0] if t[1] is None else f"{t[0]}-{t[1]}")


@given(
    code=_regions,
    status=st.sampled_from(get_args(PolicyStatus)),
    dates=st.lists(_dates, min_size=3, max_size=3),
)
def test_generated_policies_round_trip(code: str, status: str, dates: list[datetime.date]) -> None:
    introduced, passed, effective = (d.isoformat() for d in dates)
    evidence = [] if status == "not_recorded" else [{"url": "https://e.org", "sha256": "0" * 64}]
    body = policy_body(
        jurisdiction={"code": code},
        status=status,
        evidence=evidence,
        dates={"introduced": introduced, "passed": passed, "effective": effective},
    )
    content = decode_body("policy", msgpack.packb(body, use_bin_type=True))
    assert decode_body("policy", encode_body(content)) == content


@given(filed=_dates, later=st.integers(0, 400), status=st.sampled_from(get_args(RequestStatus)))
def test_generated_requests_round_trip(filed: datetime.date, later: int, status: str) -> None:
    due = (filed + datetime.timedelta(days=later)).isoformat()
    body = records_request_body(filed_on=filed.isoformat(), due_on=due, status=status, events=[])
    content = decode_body("records_request", msgpack.packb(body, use_bin_type=True))
    assert decode_body("records_request", encode_body(content)) == content
