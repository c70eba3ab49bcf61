"""The envelope: its byte layout, the canonical check, field types and ranges, limits."""

import hashlib
import struct
from dataclasses import replace
from typing import Any

import msgpack
import pytest

from protocol import PROTOCOL_VERSION
from protocol.envelope import (
    AUDIENCES,
    MAX_UINT63,
    Envelope,
    decode_envelope,
    record_id,
)
from protocol.errors import (
    LimitError,
    MalformedError,
    NonCanonicalError,
    UnknownAudienceError,
)
from protocol.limits import DEFAULT_LIMITS, Limits

ORIGIN = bytes(range(32))
BODY = b"\x80"
FIELDS = (
    "version",
    "network_id",
    "origin",
    "audience",
    "seq",
    "created_ms",
    "kind",
    "body_sha256",
    "body_len",
)


def make_envelope(**changes: Any) -> Envelope:
    values: dict[str, Any] = {
        "network_id": "banthescan",
        "origin": ORIGIN,
        "audience": "public",
        "seq": 1,
        "created_ms": 1_760_000_000_000,
        "kind": "incident",
        "body_sha256": hashlib.sha256(BODY).digest(),
        "body_len": len(BODY),
    }
    values.update(changes)
    return Envelope(**values)


def raw_envelope(
    *, header: bytes = b"\x99", encoded: dict[str, bytes] | None = None, **changes: Any
) -> bytes:
    """Envelope bytes built item by item, so any item can take any encoding."""
    values: dict[str, Any] = {
        "version": PROTOCOL_VERSION,
        "network_id": "banthescan",
        "origin": ORIGIN,
        "audience": "public",
        "seq": 1,
        "created_ms": 1_760_000_000_000,
        "kind": "incident",
        "body_sha256": hashlib.sha256(BODY).digest(),
        "body_len": len(BODY),
    }
    values.update(changes)
    encoded = encoded or {}
    return header + b"".join(
        encoded.get(name, msgpack.packb(values[name], use_bin_type=True)) for name in FIELDS
    )


def test_round_trip() -> None:
    envelope = make_envelope()
    data = envelope.encode()
    assert decode_envelope(data) == envelope
    assert data == raw_envelope()


def test_byte_layout_of_a_small_envelope() -> None:
    envelope = make_envelope(seq=5, created_ms=7, body_len=0, kind="node", audience="network")
    data = envelope.encode()
    expected = (
        b"\x99"  # fixarray of 9
        + b"\xa9banscan/1"  # fixstr, 9 bytes
        + b"\xaabanthescan"  # fixstr, 10 bytes
        + b"\xc4\x20"
        + ORIGIN  # bin8, 32 bytes
        + b"\xa7network"
        + b"\x05"  # positive fixint
        + b"\x07"
        + b"\xa4node"
        + b"\xc4\x20"
        + envelope.body_sha256
        + b"\x00"
    )
    assert data == expected


@pytest.mark.parametrize(
    ("value", "encoding"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\xcc\x80"),
        (255, b"\xcc\xff"),
        (256, b"\xcd\x01\x00"),
        (65_535, b"\xcd\xff\xff"),
        (65_536, b"\xce\x00\x01\x00\x00"),
        (2**32 - 1, b"\xce\xff\xff\xff\xff"),
        (2**32, b"\xcf" + struct.pack(">Q", 2**32)),
        (MAX_UINT63, b"\xcf" + struct.pack(">Q", MAX_UINT63)),
    ],
)
def test_integers_take_their_shortest_unsigned_form(value: int, encoding: bytes) -> None:
    data = make_envelope(body_len=value).encode()
    assert data.endswith(encoding)
    assert decode_envelope(data).body_len == value


@pytest.mark.parametrize(
    ("length", "prefix"),
    [(1, b"\xa1"), (31, b"\xbf"), (32, b"\xd9\x20"), (63, b"\xd9\x3f")],
)
def test_strings_take_fixstr_up_to_31_bytes_then_str8(length: int, prefix: bytes) -> None:
    network_id = "n" * length
    data = make_envelope(network_id=network_id).encode()
    assert prefix + network_id.encode() in data
    assert decode_envelope(data).network_id == network_id


def test_longest_kind_is_str8() -> None:
    kind = "k" * 32
    data = make_envelope(kind=kind).encode()
    assert b"\xd9\x20" + kind.encode() in data


def test_largest_valid_envelope_is_within_the_default_limit() -> None:
    envelope = make_envelope(
        network_id="n" * 63,
        audience="coordinators",
        seq=MAX_UINT63,
        created_ms=MAX_UINT63,
        kind="k" * 32,
        body_len=MAX_UINT63,
    )
    assert len(envelope.encode()) <= DEFAULT_LIMITS.max_envelope_bytes


def test_record_id_is_sha256_of_the_envelope_bytes() -> None:
    data = make_envelope().encode()
    assert record_id(data) == hashlib.sha256(data).digest()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("seq as uint8", raw_envelope(encoded={"seq": b"\xcc\x01"})),
        ("seq as uint16", raw_envelope(encoded={"seq": b"\xcd\x00\x01"})),
        ("seq as uint32", raw_envelope(encoded={"seq": b"\xce\x00\x00\x00\x01"})),
        ("seq as uint64", raw_envelope(encoded={"seq": b"\xcf" + struct.pack(">Q", 1)})),
        (
            "body_len 200 as uint16",
            raw_envelope(body_len=200, encoded={"body_len": b"\xcd\x00\xc8"}),
        ),
        (
            "created_ms as uint64 that fits uint32",
            raw_envelope(created_ms=5, encoded={"created_ms": b"\xcf" + struct.pack(">Q", 5)}),
        ),
        ("version as str8", raw_envelope(encoded={"version": b"\xd9\x09banscan/1"})),
        ("audience as str16", raw_envelope(encoded={"audience": b"\xda\x00\x06public"})),
        ("kind as str32", raw_envelope(encoded={"kind": b"\xdb\x00\x00\x00\x08incident"})),
        ("origin as bin16", raw_envelope(encoded={"origin": b"\xc5\x00\x20" + ORIGIN})),
        (
            "body_sha256 as bin32",
            raw_envelope(
                encoded={"body_sha256": b"\xc6\x00\x00\x00\x20" + hashlib.sha256(BODY).digest()}
            ),
        ),
        ("array16 header", raw_envelope(header=b"\xdc\x00\x09")),
        ("array32 header", raw_envelope(header=b"\xdd\x00\x00\x00\x09")),
    ],
)
def test_non_canonical_encodings_are_rejected(name: str, data: bytes) -> None:
    assert msgpack.unpackb(data) is not None  # valid msgpack, only not canonical
    with pytest.raises(NonCanonicalError) as caught:
        decode_envelope(data)
    assert caught.value.code == "non-canonical"


@pytest.mark.parametrize(
    ("field", "wrong"),
    [
        ("network_id", b"banthescan"),
        ("network_id", 1),
        ("origin", "x" * 32),
        ("origin", None),
        ("audience", b"public"),
        ("seq", True),
        ("seq", 1.0),
        ("seq", "1"),
        ("seq", None),
        ("created_ms", False),
        ("created_ms", 1.5),
        ("kind", 1),
        ("body_sha256", "0" * 64),
        ("body_len", True),
        ("body_len", [1]),
        ("body_len", b"\x01"),
    ],
)
def test_every_field_has_its_exact_type(field: str, wrong: Any) -> None:
    with pytest.raises(MalformedError, match=field):
        decode_envelope(raw_envelope(**{field: wrong}))


@pytest.mark.parametrize("field", ["seq", "created_ms", "body_len"])
def test_bool_is_not_an_integer_on_the_wire(field: str) -> None:
    with pytest.raises(MalformedError, match=f"{field} must be int"):
        decode_envelope(raw_envelope(encoded={field: b"\xc3"}))


@pytest.mark.parametrize("field", ["seq", "created_ms", "body_len"])
@pytest.mark.parametrize("wrong", [True, 1.0])
def test_bool_and_float_are_refused_when_building_an_envelope(field: str, wrong: Any) -> None:
    with pytest.raises(MalformedError, match=f"{field} must be int"):
        make_envelope(**{field: wrong})


@pytest.mark.parametrize(
    "encoding", [b"\xca" + struct.pack(">f", 1.0), b"\xcb" + struct.pack(">d", 1.0)]
)
def test_floats_are_refused(encoding: bytes) -> None:
    with pytest.raises(MalformedError, match="seq must be int"):
        decode_envelope(raw_envelope(encoded={"seq": encoding}))


@pytest.mark.parametrize("field", ["seq", "created_ms", "body_len"])
def test_negative_integers_are_refused(field: str) -> None:
    changes: dict[str, Any] = {field: -1}
    with pytest.raises(MalformedError, match=field):
        decode_envelope(raw_envelope(**changes))


def test_version_must_be_banscan_1() -> None:
    for version in ("banscan/2", "banscan/1 ", "BANSCAN/1", b"banscan/1", 1):
        with pytest.raises(MalformedError, match="version"):
            decode_envelope(raw_envelope(version=version))


@pytest.mark.parametrize(
    "network_id", ["", "Banthescan", "-net", ".net", "net work", "net/1", "n" * 64, "nét"]
)
def test_network_id_pattern(network_id: str) -> None:
    with pytest.raises(MalformedError, match="network_id"):
        make_envelope(network_id=network_id)
    with pytest.raises(MalformedError, match="network_id"):
        decode_envelope(raw_envelope(network_id=network_id))


@pytest.mark.parametrize("network_id", ["a", "0", "ban-the.scan_2", "n" * 63])
def test_network_id_accepted(network_id: str) -> None:
    assert decode_envelope(make_envelope(network_id=network_id).encode()).network_id == network_id


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_origin_is_32_bytes(size: int) -> None:
    with pytest.raises(MalformedError, match="origin"):
        decode_envelope(raw_envelope(origin=bytes(size)))


@pytest.mark.parametrize("size", [0, 31, 33])
def test_body_sha256_is_32_bytes(size: int) -> None:
    with pytest.raises(MalformedError, match="body_sha256"):
        decode_envelope(raw_envelope(body_sha256=bytes(size)))


@pytest.mark.parametrize("audience", AUDIENCES)
def test_each_audience_is_accepted(audience: str) -> None:
    assert decode_envelope(make_envelope(audience=audience).encode()).audience == audience


@pytest.mark.parametrize("audience", ["friends", "Public", "", "public "])
def test_unknown_audience(audience: str) -> None:
    with pytest.raises(UnknownAudienceError) as caught:
        decode_envelope(raw_envelope(audience=audience))
    assert caught.value.code == "unknown-audience"
    with pytest.raises(UnknownAudienceError):
        make_envelope(audience=audience)


def test_audiences_are_the_three_of_the_design() -> None:
    assert AUDIENCES == ("public", "network", "coordinators")


@pytest.mark.parametrize(
    ("field", "value"), [("seq", 0), ("seq", 2**63), ("created_ms", 2**63), ("body_len", 2**64 - 1)]
)
def test_integer_ranges(field: str, value: int) -> None:
    changes: dict[str, Any] = {field: value}
    with pytest.raises(MalformedError, match=field):
        decode_envelope(raw_envelope(**changes))


def test_integer_range_bounds_accepted() -> None:
    envelope = make_envelope(seq=1, created_ms=0, body_len=0)
    assert decode_envelope(envelope.encode()) == envelope
    envelope = make_envelope(seq=MAX_UINT63, created_ms=MAX_UINT63, body_len=MAX_UINT63)
    assert decode_envelope(envelope.encode()) == envelope


@pytest.mark.parametrize("kind", ["", "Incident", "1kind", "_kind", "kind-x", "k" * 33, "kïnd"])
def test_kind_pattern(kind: str) -> None:
    with pytest.raises(MalformedError, match="kind"):
        decode_envelope(raw_envelope(kind=kind))


@pytest.mark.parametrize("kind", ["a", "incident", "sighting_v2", "k" * 32])
def test_kind_accepted_whether_known_or_not(kind: str) -> None:
    assert decode_envelope(make_envelope(kind=kind).encode()).kind == kind


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        b"\x90",
        b"\x80",
        b"\xa9banscan/1",
        raw_envelope()[:-1],
        raw_envelope() + b"\x00",
        b"\x98" + raw_envelope()[1:-1],  # body_len (01) left off
        b"\x9a" + raw_envelope()[1:] + b"\x00",
        b"\x91" + raw_envelope(),
        raw_envelope(encoded={"kind": b"\xa2\xff\xfe"}),
        raw_envelope(encoded={"kind": b"\xd4\x01\x00"}),
        msgpack.packb({"version": PROTOCOL_VERSION}),
        raw_envelope(body_len={"n": 1}),
    ],
    ids=[
        "empty",
        "reserved byte",
        "empty array",
        "map",
        "string",
        "truncated",
        "trailing byte",
        "8 items",
        "10 items",
        "nested",
        "invalid utf-8",
        "ext type",
        "map with version",
        "map item",
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(MalformedError) as caught:
        decode_envelope(data)
    assert caught.value.code == "malformed"


def test_envelope_is_frozen() -> None:
    envelope = make_envelope()
    with pytest.raises(AttributeError):
        envelope.seq = 2  # type: ignore[misc]
    assert replace(envelope, seq=2).seq == 2


# Limits


def test_default_limits_are_the_design_values() -> None:
    assert (
        Limits(
            max_envelope_bytes=512,
            max_body_bytes=65_536,
            max_batch_records=500,
            max_batch_bytes=4 * 1024 * 1024,
        )
        == DEFAULT_LIMITS
    )


@pytest.mark.parametrize(
    ("check", "limit"),
    [
        ("check_envelope", 512),
        ("check_body", 65_536),
        ("check_batch_bytes", 4 * 1024 * 1024),
        ("check_batch_records", 500),
    ],
)
def test_each_limit_is_inclusive(check: str, limit: int) -> None:
    getattr(DEFAULT_LIMITS, check)(limit)
    with pytest.raises(LimitError) as caught:
        getattr(DEFAULT_LIMITS, check)(limit + 1)
    assert caught.value.status == 413
    assert caught.value.code == "too-large"
    assert str(limit) in caught.value.detail


def test_limits_are_configurable() -> None:
    limits = Limits(max_envelope_bytes=100)
    limits.check_envelope(100)
    with pytest.raises(LimitError, match="limit is 100"):
        limits.check_envelope(101)
