"""An incident's or a deployment's one-step CSV line (node.exports.csvlines) is the line
the general path writes (node.exports.csvtext, itself checked against csv.writer in
tests/test_csvtext.py), whatever the body holds: text that needs quoting or starts like
a formula, optional fields absent, empty or nil, bodies the fast structs do not fit."""

from typing import Any

import msgpack
from hypothesis import given
from hypothesis import strategies as st

from node.exports.csvlines import deployment_line, incident_line, line_of
from node.exports.csvtext import csv_line, deployment_cells, incident_cells
from storage.queries import BodyRow
from tests.factories import deployment_body, incident_body

TRICKY = ("=1+2", "-3", "+x", "@SUM(A1)", "\tx", "a, b", 'say "no"', "line\nbreak", "cr\rx", "é 漢")
_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
# Mostly text the fast path writes itself, some that sends a row the general way.
_PLAIN = st.text("ab XYZ.é", max_size=12)
TEXT = st.one_of(*[_PLAIN] * 9, st.sampled_from(TRICKY), _TEXT)
URL = st.one_of(
    st.just("https://example.org/a"), st.just("https://example.org/a,b"), st.just('http://x/"q"')
)
ABSENT: Any = object()  # a field left out of the body


def optional(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(values, values, st.just(ABSENT))


def nils(*fields: str) -> st.SearchStrategy[set[str]]:
    """Fields given as nil, which the schema allows and the general path takes as absent."""
    return st.sets(st.sampled_from(fields), max_size=2)


def present(body: dict[str, Any]) -> dict[str, Any]:
    return {k: present(v) if isinstance(v, dict) else v for k, v in body.items() if v is not ABSENT}


def row_of(body: dict[str, Any], created_ms: int, audience: str) -> BodyRow:
    return (7, bytes(range(32)), bytes(range(1, 33)), audience, created_ms, msgpack.packb(body))


ROW = {
    "created_ms": st.integers(min_value=0, max_value=253_402_300_799_999),
    "audience": st.sampled_from(("public", "network", "coordinators")),
}


@given(
    region=optional(TEXT),
    city=optional(TEXT),
    area=optional(st.sampled_from(("", "dr5ru7", "u"))),
    detail=optional(TEXT),
    agency=optional(st.fixed_dictionaries({}, optional={"name": TEXT, "identifier": TEXT})),
    record=optional(st.just("ab" * 32)),
    summary=st.one_of(TEXT, st.sampled_from(TRICKY)),
    verification=optional(
        st.fixed_dictionaries(
            {},
            optional={
                "status": st.sampled_from(("unverified", "verified", "")),
                "confirmations": st.integers(0, 10_000),
            },
        )
    ),
    sources=optional(st.lists(st.fixed_dictionaries({"url": URL}), max_size=3)),
    tags=optional(st.lists(TEXT.filter(bool), max_size=3)),
    supersedes=optional(st.just("cd" * 32)),
    nil=nils("region", "city", "area", "agency", "verification", "supersedes"),
    **ROW,
)
def test_an_incident_line_is_the_general_line(
    region: Any,
    city: Any,
    area: Any,
    detail: Any,
    agency: Any,
    record: Any,
    summary: str,
    verification: Any,
    sources: Any,
    tags: Any,
    supersedes: Any,
    nil: set[str],
    created_ms: int,
    audience: str,
) -> None:
    if isinstance(agency, dict) and record is not ABSENT:
        agency = agency | {"record": record}
    body = present(
        incident_body(
            region=region,
            city=city,
            area=area,
            technology={"type": "live_frt", "detail": detail},
            agency=agency,
            summary=summary,
            verification=verification,
            sources=sources,
            tags=tags,
            supersedes=supersedes,
        )
    ) | dict.fromkeys(nil)
    row = row_of(body, created_ms, audience)
    assert incident_line(row) == csv_line(incident_cells(row, body))


@given(
    city=optional(TEXT),
    osm=optional(st.dictionaries(st.sampled_from(("operator", "man_made", "x:y")), TEXT)),
    capability=optional(
        st.fixed_dictionaries(
            {"status": st.sampled_from(("confirmed", "unknown", ""))},
            optional={"basis": st.lists(st.sampled_from(("visual", "records_request")))},
        )
    ),
    agency=optional(st.fixed_dictionaries({"name": TEXT}, optional={"record": st.just("ef" * 32)})),
    observed=optional(
        st.fixed_dictionaries(
            {"date": st.just("2024-05-01"), "precision": st.sampled_from(("day", "month"))}
        )
    ),
    observers=optional(st.integers(0, 1_000_000)),
    status=optional(st.sampled_from(("reported", "removed", ""))),
    sources=optional(st.lists(st.fixed_dictionaries({"url": URL}), max_size=3)),
    lat_e7=st.integers(-900_000_000, 900_000_000),
    nil=nils("city", "osm", "frt_capability", "agency", "observed_on", "observers", "status"),
    **ROW,
)
def test_a_deployment_line_is_the_general_line(
    city: Any,
    osm: Any,
    capability: Any,
    agency: Any,
    observed: Any,
    observers: Any,
    status: Any,
    sources: Any,
    lat_e7: int,
    nil: set[str],
    created_ms: int,
    audience: str,
) -> None:
    body = present(
        deployment_body(
            city=city,
            osm=osm,
            frt_capability=capability,
            agency=agency,
            observed_on=observed,
            observers=observers,
            status=status,
            sources=sources,
            lat_e7=lat_e7,
        )
    ) | dict.fromkeys(nil)
    row = row_of(body, created_ms, audience)
    assert deployment_line(row) == csv_line(deployment_cells(row, body))


def test_bodies_the_structs_do_not_fit_are_written_the_general_way() -> None:
    odd = [
        incident_body(confirmations=True, verification={"status": "verified", "confirmations": 1}),
        incident_body(tags=["a", "=b"], sources=[{"url": "https://x.org", "sha256": "00" * 32}]),
        incident_body(verification={"status": "verified", "confirmations": True}),
        incident_body(technology={"type": "drone", "detail": None}),
    ]
    for body in odd:
        row = row_of(body, 1_767_225_600_123, "public")
        assert incident_line(row) == csv_line(incident_cells(row, body))
    body = deployment_body(observers=None, osm={"operator": "=City"})
    row = row_of(body, 0, "network")
    assert deployment_line(row) == csv_line(deployment_cells(row, body))


def test_other_kinds_keep_the_general_line() -> None:
    assert line_of("incident") is incident_line
    assert line_of("deployment") is deployment_line
    assert line_of("agency") is not incident_line
