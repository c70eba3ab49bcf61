"""Record kinds: each body schema, valid and invalid, and the body map itself."""

from typing import Any

import msgpack
import pycountry
import pytest

from protocol.countries import COUNTRY_CODES
from protocol.errors import BodySchemaError, MalformedError
from protocol.fields import GEOHASH_ALPHABET, MAX_AREA_PRECISION
from protocol.keys import NodeKey
from protocol.kinds import (
    KIND_MODELS,
    KNOWN_KINDS,
    Deployment,
    Incident,
    Membership,
    NodeInfo,
    Retraction,
    decode_body,
    decode_body_map,
    encode_body,
    is_known_kind,
    validate_body,
)
from tests.factories import (
    action_body,
    agency_body,
    deployment_body,
    incident_body,
    policy_body,
    records_request_body,
    vendor_body,
)

SUBJECT = NodeKey.from_seed(bytes(range(32))).text
RECORD_ID = "ab" * 32


def retraction_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"target": RECORD_ID, "reason": "duplicate", "note": "twice"}
    body.update(overrides)
    return body


def membership_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": SUBJECT,
        "action": "admit",
        "role": "chapter",
        "name": "Ban the Scan London",
        "city": "London",
        "country": "GB",
    }
    body.update(overrides)
    return body


def node_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "urls": ["https://banscan.example.org", "http://127.0.0.1:8080/"],
        "name": "London",
        "city": "London",
        "country": "GB",
        "software": "banscan 0.1.0",
    }
    body.update(overrides)
    return body


BODIES = {
    "incident": incident_body,
    "deployment": deployment_body,
    "retraction": retraction_body,
    "membership": membership_body,
    "node": node_body,
    "agency": agency_body,
    "vendor": vendor_body,
    "policy": policy_body,
    "records_request": records_request_body,
    "action": action_body,
}


def rejects(kind: str, body: dict[str, Any], *fragments: str) -> str:
    """Assert ``body`` fails its schema; return the message, which names each fragment."""
    with pytest.raises(BodySchemaError) as caught:
        validate_body(kind, body)
    assert caught.value.code == "invalid-body"
    assert caught.value.status == 422
    for fragment in fragments:
        assert fragment in caught.value.detail
    return caught.value.detail


def test_known_kinds() -> None:
    assert KNOWN_KINDS == (
        "incident",
        "deployment",
        "retraction",
        "membership",
        "node",
        "agency",
        "vendor",
        "policy",
        "records_request",
        "action",
    )
    assert [KIND_MODELS[k] for k in KNOWN_KINDS[:5]] == [
        Incident,
        Deployment,
        Retraction,
        Membership,
        NodeInfo,
    ]
    assert all(is_known_kind(k) for k in KNOWN_KINDS)
    assert not is_known_kind("petition")


def test_unknown_kind_has_no_schema() -> None:
    rejects("petition", {}, "petition")


@pytest.mark.parametrize("kind", KNOWN_KINDS)
def test_each_kind_valid_from_its_msgpack_bytes(kind: str) -> None:
    body = msgpack.packb(BODIES[kind](), use_bin_type=True)
    content = decode_body(kind, body)
    assert isinstance(content, KIND_MODELS[kind])
    again = encode_body(content)
    assert decode_body(kind, again) == content


@pytest.mark.parametrize("kind", KNOWN_KINDS)
def test_each_kind_rejects_an_extra_field(kind: str) -> None:
    rejects(kind, BODIES[kind](reporter="someone"), "reporter", "not a field of this schema")


@pytest.mark.parametrize("kind", KNOWN_KINDS)
def test_models_are_frozen(kind: str) -> None:
    content = validate_body(kind, BODIES[kind]())
    with pytest.raises(ValueError, match="frozen"):
        content.__setattr__("name", "changed")


def test_encode_body_writes_schema_order_without_nones_and_with_defaults() -> None:
    content = validate_body("retraction", {"reason": "error", "target": RECORD_ID})
    assert list(decode_body_map(encode_body(content))) == ["target", "reason"]
    content = validate_body("incident", incident_body())
    mapping = decode_body_map(encode_body(content))
    assert list(mapping) == [name for name in Incident.model_fields if name in mapping]
    assert mapping["sources"] == []
    assert mapping["tags"] == []
    assert "supersedes" not in mapping


# incident


@pytest.mark.parametrize(
    "keys",
    [
        ("lat", "lon"),
        ("lat_e7", "lon_e7"),
        ("latitude", "longitude"),
        ("lng",),
        ("point",),
        ("coordinates",),
    ],
)
def test_incident_refuses_an_exact_point(keys: tuple[str, ...]) -> None:
    detail = rejects(
        "incident",
        incident_body(**dict.fromkeys(keys, 515_072_000)),
        "exact point",
        "geohash of at most 6 characters",
    )
    for key in keys:
        assert key in detail


def test_incident_exact_point_message_names_the_keys_sorted() -> None:
    rejects("incident", incident_body(lon=-0.1, lat=51.5), "exact point (lat, lon)")


@pytest.mark.parametrize("area", ["g", "gcpvj0", "0123", "bcdefg", "hjkmnp", "qrstuv", "wxyz"])
def test_incident_area_valid(area: str) -> None:
    content = validate_body("incident", incident_body(area=area))
    assert isinstance(content, Incident)
    assert content.area == area


def test_incident_area_longer_than_6_characters() -> None:
    assert MAX_AREA_PRECISION == 6
    rejects("incident", incident_body(area="gcpvj0e"), "area", "1 to 6 characters", "not 7")
    rejects("incident", incident_body(area="gcpvj0e5d"), "area", "not 9")


@pytest.mark.parametrize(
    "area", ["", "gcpvja", "gcpvji", "gcpvjl", "gcpvjo", "GCPVJ0", "gc pv", "gc-pv"]
)
def test_incident_area_invalid_characters_or_empty(area: str) -> None:
    rejects("incident", incident_body(area=area), "area")


def test_geohash_alphabet() -> None:
    assert GEOHASH_ALPHABET == "0123456789bcdefghjkmnpqrstuvwxyz"
    assert not set("ailo") & set(GEOHASH_ALPHABET)


@pytest.mark.parametrize("country", ["UK", "XX", "EU", "gb", "GBR", "G", "", "ZZ"])
def test_country_not_iso_3166_1(country: str) -> None:
    rejects("incident", incident_body(country=country), "country")
    rejects("deployment", deployment_body(country=country), "country")
    rejects("node", node_body(country=country), "country")
    rejects("membership", membership_body(country=country), "country")


def test_country_message_names_iso() -> None:
    rejects("incident", incident_body(country="UK"), "'UK' is not an ISO 3166-1 alpha-2")


@pytest.mark.parametrize("country", ["GB", "US", "FR", "DE"])
def test_country_valid(country: str) -> None:
    validate_body("incident", incident_body(country=country))


def test_country_codes_are_pycountry_alpha_2() -> None:
    assert {country.alpha_2 for country in pycountry.countries} == COUNTRY_CODES


@pytest.mark.parametrize(
    "date",
    ["2025-02-30", "2023-02-29", "2025-13-01", "2025-00-10", "2025-04-31", "0000-01-01"],
)
def test_dates_that_are_not_calendar_dates(date: str) -> None:
    rejects(
        "incident",
        incident_body(occurred_on={"date": date, "precision": "day"}),
        "occurred_on.date",
        "not a calendar date",
    )


@pytest.mark.parametrize(
    "date",
    [
        "2025-3-1",
        "20250301",
        "2025-03",
        "2025",
        "2025-03-01T00:00",
        " 2025-03-01",
        "\uff12\uff10\uff12\uff15-03-01",
    ],
)
def test_dates_in_the_wrong_form(date: str) -> None:
    rejects("incident", incident_body(occurred_on={"date": date, "precision": "day"}), "date")


@pytest.mark.parametrize(
    ("date", "precision"),
    [("2024-02-29", "day"), ("2025-03-01", "month"), ("2025-01-01", "year")],
)
def test_partial_dates(date: str, precision: str) -> None:
    content = validate_body(
        "incident", incident_body(occurred_on={"date": date, "precision": precision})
    )
    assert isinstance(content, Incident)
    assert content.occurred_on.precision == precision


@pytest.mark.parametrize(
    ("date", "precision", "message"),
    [
        ("2025-03-14", "month", "first of the month"),
        ("2025-03-02", "month", "first of the month"),
        ("2025-03-01", "year", "January 1"),
        ("2025-02-01", "year", "January 1"),
    ],
)
def test_partial_date_names_the_first_day_of_its_period(
    date: str, precision: str, message: str
) -> None:
    rejects(
        "incident",
        incident_body(occurred_on={"date": date, "precision": precision}),
        "occurred_on",
        message,
    )


def test_partial_date_precision_is_a_closed_list() -> None:
    rejects(
        "incident",
        incident_body(occurred_on={"date": "2025-03-01", "precision": "week"}),
        "precision",
    )


def test_incident_category_and_technology_lists() -> None:
    categories = [
        "misidentification",
        "wrongful_arrest",
        "protest_surveillance",
        "home_visit_or_raid",
        "harassment",
        "stop_and_search",
        "immigration_enforcement",
        "school_or_workplace",
        "data_sharing",
        "other",
    ]
    for category in categories:
        validate_body("incident", incident_body(category=category))
    rejects("incident", incident_body(category="Misidentification"), "category")
    rejects("incident", incident_body(category="wrongful arrest"), "category")
    for technology in ["live_frt", "retrospective_frt", "mobile_app", "drone", "other"]:
        validate_body("incident", incident_body(technology={"type": technology, "detail": "x"}))
    rejects("incident", incident_body(technology={"type": "cctv"}), "technology.type")
    rejects(
        "incident", incident_body(technology={"type": "drone", "model": "x"}), "technology.model"
    )


def test_incident_required_fields() -> None:
    for field in ["occurred_on", "country", "category", "technology", "summary"]:
        body = incident_body()
        body.pop(field)
        rejects("incident", body, field, "Field required")
    minimal = {
        "occurred_on": {"date": "2025-01-01", "precision": "year"},
        "country": "GB",
        "category": "other",
        "technology": {"type": "other"},
        "summary": "",
    }
    content = validate_body("incident", minimal)
    assert isinstance(content, Incident)
    assert content.verification.status == "unverified"
    assert content.verification.confirmations == 0


def test_incident_verification() -> None:
    for status in ["unverified", "corroborated", "verified"]:
        validate_body("incident", incident_body(verification={"status": status}))
    rejects("incident", incident_body(verification={"status": "true"}), "verification.status")
    rejects(
        "incident",
        incident_body(verification={"status": "verified", "confirmations": 10_001}),
        "verification.confirmations",
    )
    rejects(
        "incident",
        incident_body(verification={"status": "verified", "confirmations": -1}),
        "verification.confirmations",
    )


def test_incident_agency_sources_tags_supersedes() -> None:
    validate_body(
        "incident",
        incident_body(
            agency={"name": "Met", "identifier": "GB-MPS"},
            sources=[
                {
                    "url": "https://example.org/a",
                    "archived_url": "https://web.archive.org/x",
                    "sha256": "0" * 64,
                }
            ],
            tags=["t" * 64] * 32,
            supersedes=RECORD_ID,
        ),
    )
    rejects("incident", incident_body(agency={"identifier": "x"}), "agency.name")
    rejects("incident", incident_body(sources=[{"url": "ftp://example.org"}]), "sources.0.url")
    rejects("incident", incident_body(sources=[{"url": "https://"}]), "sources.0.url")
    rejects(
        "incident", incident_body(sources=[{"url": "https://x.org", "sha256": "AB" * 32}]), "sha256"
    )
    rejects("incident", incident_body(sources=[{"url": "https://x.org"}] * 51), "sources")
    rejects("incident", incident_body(tags=[""]), "tags.0")
    rejects("incident", incident_body(tags=["t" * 65]), "tags.0")
    rejects("incident", incident_body(tags=["t"] * 33), "tags")
    rejects("incident", incident_body(supersedes="AB" * 32), "supersedes")
    rejects("incident", incident_body(supersedes="ab" * 31), "supersedes")


def test_text_lengths() -> None:
    validate_body("incident", incident_body(city="c" * 200, summary="s" * 20_000))
    rejects("incident", incident_body(city="c" * 201), "city")
    rejects("incident", incident_body(summary="s" * 20_001), "summary")


def test_strict_types_no_coercion() -> None:
    rejects("incident", incident_body(city=5), "city")
    rejects("incident", incident_body(tags="protest"), "tags")
    rejects("incident", incident_body(technology="live_frt"), "technology")
    rejects("incident", incident_body(summary=b"bytes"), "summary")


def test_error_message_does_not_echo_the_values() -> None:
    secret = "Reporter Jane Doe, 07700 900123, " * 700
    detail = rejects("incident", incident_body(summary=secret), "summary")
    assert "Jane" not in detail


def test_error_message_lists_at_most_five_problems() -> None:
    body = incident_body(city=1, region=2, area=3, summary=4, tags=5, agency=6, country=7)
    detail = rejects("incident", body)
    assert detail.count(";") == 5
    assert detail.endswith("and 2 more")


# deployment


def test_deployment_valid_exact_point() -> None:
    content = validate_body("deployment", deployment_body())
    assert isinstance(content, Deployment)
    assert content.lat_e7 == 407_580_000
    assert content.osm["surveillance:type"] == "camera"


@pytest.mark.parametrize(
    ("field", "value"),
    [("lat_e7", 51.5072), ("lon_e7", -0.1275), ("lat_e7", 515_072_000.0), ("observers", 1.0)],
)
def test_deployment_float_where_int_expected(field: str, value: float) -> None:
    rejects("deployment", deployment_body(**{field: value}), field, "integer")


@pytest.mark.parametrize(
    ("field", "value"), [("lat_e7", True), ("observers", False), ("lat_e7", "515072000")]
)
def test_deployment_bool_or_string_where_int_expected(field: str, value: object) -> None:
    rejects("deployment", deployment_body(**{field: value}), field)


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("lat_e7", 900_000_000, True),
        ("lat_e7", -900_000_000, True),
        ("lat_e7", 900_000_001, False),
        ("lat_e7", -900_000_001, False),
        ("lon_e7", 1_800_000_000, True),
        ("lon_e7", -1_800_000_000, True),
        ("lon_e7", 1_800_000_001, False),
        ("lon_e7", -1_800_000_001, False),
        ("observers", 0, True),
        ("observers", 1_000_000, True),
        ("observers", 1_000_001, False),
        ("observers", -1, False),
    ],
)
def test_deployment_ranges(field: str, value: int, ok: bool) -> None:
    body = deployment_body(**{field: value})
    if ok:
        validate_body("deployment", body)
    else:
        rejects("deployment", body, field)


def test_deployment_osm_tags() -> None:
    validate_body(
        "deployment",
        deployment_body(
            osm={
                "man_made": "surveillance",
                "surveillance:type": "camera",
                "camera:type": "dome",
                "camera:mount": "pole",
                "camera:direction": "90",
                "surveillance:zone": "street",
                "operator": "Metropolitan Police",
                "brand": "Example",
            }
        ),
    )
    rejects("deployment", deployment_body(osm={"Man_Made": "x"}), "osm")
    rejects("deployment", deployment_body(osm={"camera::type": "x"}), "osm")
    rejects("deployment", deployment_body(osm={"camera:": "x"}), "osm")
    rejects("deployment", deployment_body(osm={"brand": ""}), "osm")
    rejects("deployment", deployment_body(osm={"brand": "b" * 256}), "osm")
    rejects("deployment", deployment_body(osm={"brand": 1}), "osm")
    rejects("deployment", deployment_body(osm={f"k{'a' * i}": "v" for i in range(33)}), "osm")


def test_deployment_capability_and_status() -> None:
    for status in ["confirmed", "suspected", "unknown"]:
        validate_body("deployment", deployment_body(frt_capability={"status": status}))
    basis = ["procurement_record", "records_request", "vendor_document", "visual"]
    validate_body(
        "deployment", deployment_body(frt_capability={"status": "confirmed", "basis": basis})
    )
    rejects(
        "deployment",
        deployment_body(frt_capability={"status": "confirmed", "basis": ["rumour"]}),
        "frt_capability.basis",
    )
    rejects("deployment", deployment_body(frt_capability={"status": "likely"}), "frt_capability")
    for status in ["reported", "corroborated", "confirmed", "disputed", "removed"]:
        validate_body("deployment", deployment_body(status=status))
    rejects("deployment", deployment_body(status="gone"), "status")
    validate_body(
        "deployment", deployment_body(observed_on={"date": "2025-06-01", "precision": "month"})
    )
    rejects(
        "deployment",
        deployment_body(observed_on={"date": "2025-06-31", "precision": "day"}),
        "observed_on",
    )


def test_deployment_defaults() -> None:
    content = validate_body("deployment", {"lat_e7": 0, "lon_e7": 0, "country": "GB"})
    assert isinstance(content, Deployment)
    assert content.status == "reported"
    assert content.frt_capability.status == "unknown"
    assert content.observers == 0


# retraction


def test_retraction() -> None:
    for reason in ["duplicate", "error", "safety", "consent_withdrawn", "legal"]:
        validate_body("retraction", retraction_body(reason=reason))
    validate_body("retraction", {"target": RECORD_ID, "reason": "legal"})
    rejects("retraction", retraction_body(reason="mistake"), "reason")
    rejects("retraction", retraction_body(target="AB" * 32), "target")
    rejects("retraction", retraction_body(target="ab" * 33), "target")
    rejects("retraction", retraction_body(target=bytes(32)), "target")
    rejects("retraction", {"reason": "error"}, "target", "Field required")


# membership


def test_membership_actions_and_roles() -> None:
    for action in ["admit", "suspend"]:
        for role in ["chapter", "coordinator"]:
            validate_body("membership", membership_body(action=action, role=role))
    rejects("membership", membership_body(action="expel"), "action")
    rejects("membership", membership_body(role="steward"), "role")


def test_membership_revoke_needs_compromised_since_ms() -> None:
    detail = rejects("membership", membership_body(action="revoke"), "compromised_since_ms")
    assert "required for revoke" in detail
    content = validate_body("membership", membership_body(action="revoke", compromised_since_ms=0))
    assert isinstance(content, Membership)
    assert content.compromised_since_ms == 0


@pytest.mark.parametrize("action", ["admit", "suspend"])
def test_membership_compromised_since_ms_only_for_revoke(action: str) -> None:
    rejects("membership", membership_body(action=action, compromised_since_ms=5), "only for revoke")


@pytest.mark.parametrize("value", [-1, 1.5, "5", True])
def test_membership_compromised_since_ms_is_a_non_negative_integer(value: object) -> None:
    rejects(
        "membership",
        membership_body(action="revoke", compromised_since_ms=value),
        "compromised_since_ms",
    )


@pytest.mark.parametrize(
    "subject",
    [
        SUBJECT[:-1],
        SUBJECT + "A",
        SUBJECT.replace("ed25519:", "ED25519:"),
        SUBJECT.removeprefix("ed25519:"),
        SUBJECT + "=",
        "ed25519:" + "A" * 42 + "B",  # the same 32 zero bytes as "A" * 43, spelled another way
    ],
)
def test_membership_subject_is_a_canonical_key_text(subject: str) -> None:
    rejects("membership", membership_body(subject=subject), "subject")


def test_membership_subject_of_zero_bytes_is_canonical_only_once() -> None:
    validate_body("membership", membership_body(subject="ed25519:" + "A" * 43))


# node


def test_node_urls() -> None:
    validate_body("node", node_body(urls=["https://a.example"] * 8))
    rejects("node", node_body(urls=[]), "urls")
    rejects("node", node_body(urls=["https://a.example"] * 9), "urls")
    rejects("node", node_body(urls=["ftp://a.example"]), "urls.0")
    rejects("node", node_body(urls=["a.example"]), "urls.0")
    rejects("node", node_body(urls=["https://a.example/" + "p" * 2048]), "urls.0")
    rejects("node", {"name": "x"}, "urls", "Field required")


def test_node_minimal() -> None:
    content = validate_body("node", {"urls": ["http://127.0.0.1:8080"], "name": "n"})
    assert isinstance(content, NodeInfo)
    assert content.country is None


# the body map


def test_decode_body_map() -> None:
    assert decode_body_map(msgpack.packb({"a": [1, {"b": None}]})) == {"a": [1, {"b": None}]}


@pytest.mark.parametrize(
    "body",
    [b"", b"\xc1", b"\x90", b"\xa1x", b"\x01", b"\x81\xa1a", b"\x80\x80"],
    ids=["empty", "reserved", "array", "string", "int", "truncated", "two values"],
)
def test_decode_body_map_malformed(body: bytes) -> None:
    with pytest.raises(MalformedError) as caught:
        decode_body_map(body)
    assert caught.value.code == "malformed"


@pytest.mark.parametrize(
    "body",
    [b"\x81\x01\xa1x", b"\x81\x80\xa1x", b"\x81\xc0\xa1x", b"\x81\xa1a\xd4\x01\x00"],
    ids=["int key", "map key", "nil key", "ext value"],
)
def test_decode_body_map_refuses_odd_keys_and_ext(body: bytes) -> None:
    with pytest.raises(MalformedError):
        decode_body_map(body)


def test_decode_body_map_refuses_a_repeated_key() -> None:
    repeated = b"\x82\xa7country\xa2US\xa7country\xa2FR"
    with pytest.raises(MalformedError, match="repeated key"):
        decode_body_map(repeated)
    nested = b"\x81\xa3osm\x82\xa5brand\xa1a\xa5brand\xa1b"
    with pytest.raises(MalformedError, match="repeated key"):
        decode_body_map(nested)


def test_decode_body_rejects_bytes_keys_by_schema() -> None:
    body = msgpack.packb({b"target": RECORD_ID, "reason": "error"}, use_bin_type=True)
    with pytest.raises(BodySchemaError):
        decode_body("retraction", body)


def test_decode_body_malformed_is_not_a_schema_error() -> None:
    with pytest.raises(MalformedError):
        decode_body("incident", b"\xc1")
