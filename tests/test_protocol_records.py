"""Signed records: keys, signing and verifying, the wire form, batches, bundles, errors."""

import hashlib
from collections.abc import Iterable

import msgpack
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from protocol import errors
from protocol.bundle import (
    BUNDLE_FORMAT,
    BadEntry,
    BundleReader,
    encode_header,
    encode_trailer,
)
from protocol.envelope import decode_envelope
from protocol.errors import (
    BodyMismatchError,
    BodySchemaError,
    KeyFormatError,
    LimitError,
    MalformedError,
    ProtocolError,
    SignatureError,
    WrongNetworkError,
)
from protocol.keys import (
    KEY_PREFIX,
    NodeKey,
    b64url_decode,
    b64url_encode,
    key_text,
    parse_key_text,
    verify_signature,
)
from protocol.kinds import Incident, encode_body, validate_body
from protocol.limits import DEFAULT_LIMITS, Limits
from protocol.records import (
    SignedRecord,
    decode_batch,
    decode_record,
    encode_batch,
    record_from_wire,
    seal_record,
    sign_record,
    verify_record,
)
from tests.factories import NETWORK, feed, incident_body, seeded_key, signed

KEY = seeded_key("records")


def check(record: SignedRecord, limits: Limits = DEFAULT_LIMITS) -> None:
    verify_record(record, network_id=NETWORK, limits=limits)


# Keys


def test_key_text_form() -> None:
    key = NodeKey.from_seed(bytes(32))
    assert key.text == KEY_PREFIX + b64url_encode(key.public_key)
    assert len(key.text) == len("ed25519:") + 43
    assert "=" not in key.text
    assert parse_key_text(key.text) == key.public_key
    assert key_text(key.public_key) == key.text


@pytest.mark.parametrize("size", [0, 31, 33])
def test_key_text_needs_32_bytes(size: int) -> None:
    with pytest.raises(KeyFormatError):
        key_text(bytes(size))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ed25519:",
        "ed25519" + b64url_encode(bytes(32)),
        "ED25519:" + b64url_encode(bytes(32)),
        "ed25519:" + b64url_encode(bytes(32)) + "=",
        "ed25519:" + b64url_encode(bytes(31)),
        "ed25519:" + b64url_encode(bytes(33)),
        "ed25519:" + "A" * 42 + "B",
        "ed25519:" + "/" + "A" * 42,
        "ed25519:" + "é" * 43,
        "ed25519: " + "A" * 43,
    ],
)
def test_parse_key_text_rejects(text: str) -> None:
    with pytest.raises(KeyFormatError) as caught:
        parse_key_text(text)
    assert caught.value.code == "bad-key"


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff\xfe", bytes(range(256))])
def test_b64url_round_trip(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text
    assert "+" not in text
    assert "/" not in text
    assert b64url_decode(text) == data


@pytest.mark.parametrize("text", ["A", "AA==", "A+B/", "AB\n", "ÀÀ", "AB", "AAB"])
def test_b64url_decode_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        b64url_decode(text)


def test_node_key_pem_round_trip() -> None:
    pem = KEY.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    again = NodeKey.from_pem(pem)
    assert again.public_key == KEY.public_key
    assert again.sign(b"m") == KEY.sign(b"m")


def test_node_key_from_pem_rejects_garbage_and_other_algorithms() -> None:
    with pytest.raises(KeyFormatError):
        NodeKey.from_pem(b"not a key")
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFormatError, match="Ed25519"):
        NodeKey.from_pem(other)


def test_generated_keys_differ_and_sign() -> None:
    first, second = NodeKey.generate(), NodeKey.generate()
    assert first.public_key != second.public_key
    assert verify_signature(first.public_key, b"m", first.sign(b"m"))
    assert not verify_signature(second.public_key, b"m", first.sign(b"m"))


def test_verify_signature_returns_false_on_wrong_sizes() -> None:
    signature = KEY.sign(b"m")
    assert not verify_signature(KEY.public_key[:31], b"m", signature)
    assert not verify_signature(KEY.public_key, b"m", signature[:63])
    assert not verify_signature(KEY.public_key, b"m", signature + b"\x00")
    assert not verify_signature(bytes(32), b"m", bytes(64))


def test_signatures_that_only_lax_verifiers_accept_are_refused() -> None:
    # With the identity point as key and as R, and S = 0, the RFC 8032 equation
    # [S]B = R + [k]A holds for every message; libsodium refuses small-order points.
    identity = b"\x01" + bytes(31)
    assert not verify_signature(identity, b"any message", identity + bytes(32))
    # S + L is the same scalar mod L, but not the canonical S.
    group_order = 2**252 + 27742317777372353535851937790883648493
    signature = KEY.sign(b"m")
    s = int.from_bytes(signature[32:], "little") + group_order
    assert s < 2**256
    assert not verify_signature(KEY.public_key, b"m", signature[:32] + s.to_bytes(32, "little"))


# Signing and verifying


def test_sign_then_verify() -> None:
    record = signed(KEY, 1)
    verified = verify_record(record, network_id=NETWORK, limits=DEFAULT_LIMITS)
    assert verified.id == hashlib.sha256(record.envelope_bytes).digest() == record.id
    assert verified.envelope.origin == KEY.public_key
    assert verified.envelope.seq == 1
    assert verified.envelope.kind == "incident"
    assert verified.envelope.body_len == len(record.body or b"")
    assert isinstance(verified.content, Incident)
    assert verified.content.city == "New York"
    assert verified.signed() == record


def test_signature_is_over_the_envelope_bytes() -> None:
    record = signed(KEY, 1)
    assert verify_signature(KEY.public_key, record.envelope_bytes, record.signature)


def test_erased_body_still_verifies() -> None:
    record = signed(KEY, 1)
    verified = verify_record(
        SignedRecord(record.envelope_bytes, record.signature, None),
        network_id=NETWORK,
        limits=DEFAULT_LIMITS,
    )
    assert verified.body is None
    assert verified.content is None
    assert verified.id == record.id


def test_unknown_kind_body_is_opaque() -> None:
    record = signed(KEY, 1, kind="sighting_v2", body=b"\xc1 not msgpack at all")
    verified = verify_record(record, network_id=NETWORK, limits=DEFAULT_LIMITS)
    assert verified.content is None
    assert verified.body == b"\xc1 not msgpack at all"


def test_wrong_network() -> None:
    with pytest.raises(WrongNetworkError) as caught:
        verify_record(signed(KEY, 1), network_id="testnet", limits=DEFAULT_LIMITS)
    assert caught.value.code == "wrong-network"


def test_body_hash_mismatch() -> None:
    record = signed(KEY, 1)
    assert record.body is not None
    tampered = record.body.replace(b"New York", b"New Yorx")
    with pytest.raises(BodyMismatchError):
        check(SignedRecord(record.envelope_bytes, record.signature, tampered))


def test_body_length_mismatch() -> None:
    record = signed(KEY, 1)
    with pytest.raises(BodyMismatchError):
        check(SignedRecord(record.envelope_bytes, record.signature, (record.body or b"") + b"x"))


def test_wrong_signature() -> None:
    record = signed(KEY, 1)
    flipped = bytearray(record.signature)
    flipped[10] ^= 0x20
    with pytest.raises(SignatureError) as caught:
        check(SignedRecord(record.envelope_bytes, bytes(flipped), record.body))
    assert caught.value.code == "bad-signature"


def test_signature_by_another_key() -> None:
    record = signed(KEY, 1)
    other = seeded_key("other").sign(record.envelope_bytes)
    with pytest.raises(SignatureError):
        check(SignedRecord(record.envelope_bytes, other, record.body))


def test_signature_is_checked_before_the_body_schema() -> None:
    bad_body = incident_body(lat=51.5, lon=-0.1)
    record = signed(KEY, 1, body=bad_body)
    with pytest.raises(BodySchemaError, match="exact point"):
        check(record)
    with pytest.raises(SignatureError):
        check(SignedRecord(record.envelope_bytes, bytes(64), record.body))


def test_oversize_envelope_is_refused_before_decoding() -> None:
    with pytest.raises(LimitError):
        check(SignedRecord(b"\xc1" * 513, bytes(64), None))


def test_oversize_body_is_refused_before_hashing() -> None:
    record = signed(KEY, 1, kind="blob", body=bytes(2000))
    limits = Limits(max_body_bytes=1999)
    with pytest.raises(LimitError):
        check(record, limits)
    with pytest.raises(LimitError):  # also when the body was erased: body_len counts
        check(SignedRecord(record.envelope_bytes, record.signature, None), limits)
    check(record, Limits(max_body_bytes=2000))


def test_seal_record() -> None:
    content = validate_body("incident", incident_body())
    sealed = seal_record(
        KEY,
        network_id=NETWORK,
        audience="network",
        seq=4,
        created_ms=123,
        kind="incident",
        content=content,
    )
    assert sealed.body == encode_body(content)
    assert sealed.content == content
    assert sealed.envelope == decode_envelope(sealed.envelope_bytes)
    assert sealed.envelope.audience == "network"
    assert sealed.envelope.seq == 4
    assert sealed.envelope.created_ms == 123
    verified = verify_record(sealed.signed(), network_id=NETWORK, limits=DEFAULT_LIMITS)
    assert verified == sealed


def test_sign_record_refuses_an_invalid_envelope() -> None:
    with pytest.raises(MalformedError):
        sign_record(
            KEY,
            network_id=NETWORK,
            audience="public",
            seq=0,
            created_ms=1,
            kind="incident",
            body=b"\x80",
        )


# The wire form


def test_wire_form() -> None:
    record = signed(KEY, 1)
    assert record.to_wire() == [record.envelope_bytes, record.signature, record.body]
    data = record.encode()
    assert data[0] == 0x93
    assert msgpack.unpackb(data) == [record.envelope_bytes, record.signature, record.body]
    assert decode_record(data, DEFAULT_LIMITS) == record


def test_wire_form_with_erased_body_is_nil() -> None:
    record = signed(KEY, 1)
    erased = SignedRecord(record.envelope_bytes, record.signature, None)
    data = erased.encode()
    assert data.endswith(b"\xc0")
    assert decode_record(data, DEFAULT_LIMITS) == erased


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ([b"e", bytes(64)], MalformedError),
        ([b"e", bytes(64), None, None], MalformedError),
        ({"envelope": b"e"}, MalformedError),
        (["e", bytes(64), None], MalformedError),
        ([b"e", "s" * 64, None], MalformedError),
        ([b"e", bytes(64), "body"], MalformedError),
        ([b"e", bytes(64), 0], MalformedError),
        ([b"e", bytes(63), None], SignatureError),
        ([b"e", bytes(65), None], SignatureError),
    ],
)
def test_record_from_wire_rejects(value: object, error: type[ProtocolError]) -> None:
    with pytest.raises(error):
        record_from_wire(value)
    with pytest.raises(error):
        decode_record(msgpack.packb(value, use_bin_type=True), DEFAULT_LIMITS)


@pytest.mark.parametrize(
    "data",
    [b"", b"\xc1", b"\x93\xc4", signed(KEY, 1).encode() + b"\x00", signed(KEY, 1).encode()[:-1]],
    ids=["empty", "reserved byte", "truncated header", "trailing byte", "truncated"],
)
def test_decode_record_malformed(data: bytes) -> None:
    with pytest.raises(MalformedError):
        decode_record(data, DEFAULT_LIMITS)


def test_decode_record_size_limit() -> None:
    record = signed(KEY, 1, kind="blob", body=bytes(5000))
    limits = Limits(max_body_bytes=1024)
    with pytest.raises(LimitError):
        decode_record(record.encode(), limits)


# Batches


def test_batch_round_trip() -> None:
    records = feed(KEY, 20)
    data = encode_batch(records)
    assert data[:3] == b"\xdc\x00\x14"  # array16 for more than 15 records
    assert decode_batch(data, DEFAULT_LIMITS) == records


def test_empty_batch() -> None:
    assert encode_batch([]) == b"\x90"
    assert decode_batch(b"\x90", DEFAULT_LIMITS) == []


def test_batch_record_count_limit() -> None:
    records = feed(KEY, 3)
    decode_batch(encode_batch(records), Limits(max_batch_records=3))
    with pytest.raises(LimitError, match="3 records"):
        decode_batch(encode_batch(records), Limits(max_batch_records=2))


def test_batch_count_is_checked_before_reading_records() -> None:
    # A header that claims 501 records and nothing after it: the count alone refuses it.
    with pytest.raises(LimitError):
        decode_batch(b"\xdc\x01\xf5", DEFAULT_LIMITS)


def test_batch_byte_limit() -> None:
    data = encode_batch(feed(KEY, 3))
    decode_batch(data, Limits(max_batch_bytes=len(data)))
    with pytest.raises(LimitError):
        decode_batch(data, Limits(max_batch_bytes=len(data) - 1))


def test_batch_trailing_bytes() -> None:
    with pytest.raises(MalformedError, match="trailing"):
        decode_batch(encode_batch(feed(KEY, 2)) + b"\x90", DEFAULT_LIMITS)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x80", b"\xa3abc", b"\x92" + signed(KEY, 1).encode(), b"\xc1"],
    ids=["empty", "map", "string", "header claims more", "reserved byte"],
)
def test_batch_malformed(data: bytes) -> None:
    with pytest.raises(MalformedError):
        decode_batch(data, DEFAULT_LIMITS)


def test_batch_names_the_bad_record() -> None:
    good = signed(KEY, 1).to_wire()
    data = msgpack.packb([good, [good[0], bytes(10), None]], use_bin_type=True)
    with pytest.raises(SignatureError, match="record 1 of the batch"):
        decode_batch(data, DEFAULT_LIMITS)
    data = msgpack.packb([good, good, "x"], use_bin_type=True)
    with pytest.raises(MalformedError, match="record 2 of the batch"):
        decode_batch(data, DEFAULT_LIMITS)


@pytest.mark.parametrize(
    ("wire", "what"),
    [
        ([bytes(513), bytes(64), None], "envelope is 513 bytes"),
        ([bytes(100), bytes(64), bytes(65_537)], "body is 65537 bytes"),
    ],
)
def test_batch_names_an_oversize_envelope_or_body_too_large(
    wire: list[bytes | None], what: str
) -> None:
    data = msgpack.packb([signed(KEY, 1).to_wire(), wire], use_bin_type=True)
    with pytest.raises(LimitError, match=f"record 1 of the batch: {what}"):
        decode_batch(data, DEFAULT_LIMITS)


def test_decode_record_names_an_oversize_envelope_too_large() -> None:
    data = msgpack.packb([bytes(600), bytes(64), None], use_bin_type=True)
    with pytest.raises(LimitError, match="envelope is 600 bytes"):
        decode_record(data, DEFAULT_LIMITS)


# Bundles


def bundle_bytes(records: list[SignedRecord], *, trailer: int | None = None) -> bytes:
    count = len(records) if trailer is None else trailer
    return (
        encode_header(NETWORK, 1_760_000_000_000)
        + b"".join(r.encode() for r in records)
        + encode_trailer(count)
    )


def read(chunks: Iterable[bytes], limits: Limits = DEFAULT_LIMITS) -> list[SignedRecord | BadEntry]:
    reader = BundleReader(limits)
    items: list[SignedRecord | BadEntry] = []
    for chunk in chunks:
        items.extend(reader.feed(chunk))
    reader.finish()
    return items


def test_bundle_layout() -> None:
    header = msgpack.unpackb(encode_header(NETWORK, 5))
    assert header == {"bundle": BUNDLE_FORMAT, "network_id": NETWORK, "created_ms": 5}
    assert BUNDLE_FORMAT == "banscan-bundle/1"
    assert msgpack.unpackb(encode_trailer(3)) == {"end": 3}


def test_bundle_round_trip() -> None:
    records = feed(KEY, 5)
    reader = BundleReader(DEFAULT_LIMITS)
    items = list(reader.feed(bundle_bytes(records)))
    reader.finish()
    assert items == records
    assert reader.header is not None
    assert reader.header.network_id == NETWORK
    assert reader.header.created_ms == 1_760_000_000_000
    assert reader.count == 5


def test_empty_bundle() -> None:
    assert read([bundle_bytes([])]) == []


def test_bundle_one_byte_at_a_time_gives_the_same_records() -> None:
    records = feed(KEY, 4)
    data = bundle_bytes(records)
    assert read(data[i : i + 1] for i in range(len(data))) == records


def test_bundle_chunk_size_does_not_matter() -> None:
    records = [signed(KEY, seq, kind="blob", body=bytes(60_000)) for seq in range(1, 25)]
    data = bundle_bytes(records)
    assert len(data) > 1 << 20
    for size in (len(data), 1 << 16, 4099):
        assert read(data[i : i + size] for i in range(0, len(data), size)) == records


@pytest.mark.parametrize("cut", [1, 10, 200])
def test_bundle_truncation_is_detected(cut: int) -> None:
    data = bundle_bytes(feed(KEY, 3))
    with pytest.raises(MalformedError, match="truncated"):
        read([data[:-cut]])


def test_bundle_without_trailer_is_truncated() -> None:
    records = feed(KEY, 2)
    data = encode_header(NETWORK, 1) + b"".join(r.encode() for r in records)
    with pytest.raises(MalformedError, match="truncated: no trailer after 2 records"):
        read([data])


def test_empty_file_is_truncated() -> None:
    with pytest.raises(MalformedError):
        read([b""])


@pytest.mark.parametrize("trailer", [0, 2, 4])
def test_bundle_trailer_count_must_match(trailer: int) -> None:
    with pytest.raises(MalformedError, match="trailer"):
        read([bundle_bytes(feed(KEY, 3), trailer=trailer)])


@pytest.mark.parametrize(
    "trailer",
    [{"end": True}, {"end": 1.0}, {"end": "1"}, {"end": 1, "more": 1}, {"stop": 1}],
)
def test_bundle_trailer_is_exactly_end_and_an_integer(trailer: dict[str, object]) -> None:
    data = encode_header(NETWORK, 1) + signed(KEY, 1).encode() + msgpack.packb(trailer)
    with pytest.raises(MalformedError, match="trailer"):
        read([data])


def test_bundle_data_after_trailer() -> None:
    data = bundle_bytes(feed(KEY, 2))
    with pytest.raises(MalformedError, match="after its trailer"):
        read([data + signed(KEY, 3).encode()])
    with pytest.raises(MalformedError, match="after its trailer"):
        read([data + encode_trailer(2)])


@pytest.mark.parametrize(
    "header",
    [
        {"bundle": "banscan-bundle/2", "network_id": NETWORK, "created_ms": 1},
        {"network_id": NETWORK, "created_ms": 1},
        {"bundle": BUNDLE_FORMAT, "network_id": b"banthescan", "created_ms": 1},
        {"bundle": BUNDLE_FORMAT, "network_id": NETWORK, "created_ms": True},
        {"bundle": BUNDLE_FORMAT, "network_id": NETWORK},
        [1, 2, 3],
    ],
)
def test_bundle_header_is_checked(header: object) -> None:
    data = msgpack.packb(header, use_bin_type=True) + encode_trailer(0)
    with pytest.raises(MalformedError, match="header"):
        read([data])


def test_bundle_starting_with_a_record_has_no_header() -> None:
    data = b"".join(r.encode() for r in feed(KEY, 2)) + encode_trailer(2)
    with pytest.raises(MalformedError, match="header"):
        read([data])


def test_bundle_bad_entry_is_reported_and_reading_goes_on() -> None:
    good = feed(KEY, 3)
    broken = msgpack.packb([good[1].envelope_bytes, bytes(10), None], use_bin_type=True)
    data = (
        encode_header(NETWORK, 1)
        + good[0].encode()
        + broken
        + good[2].encode()
        + msgpack.packb(7)
        + encode_trailer(4)
    )
    items = read([data])
    assert items[0] == good[0]
    assert isinstance(items[1], BadEntry)
    assert items[1].index == 1
    assert items[1].error.code == "bad-signature"
    assert items[2] == good[2]
    assert isinstance(items[3], BadEntry)
    assert items[3].index == 3
    assert items[3].error.code == "malformed"


def test_bundle_entry_over_the_limits_is_fatal() -> None:
    limits = Limits(max_body_bytes=1024)
    record = signed(KEY, 1, kind="blob", body=bytes(4096))
    with pytest.raises(MalformedError):
        read([bundle_bytes([record])], limits)


def test_bundle_corrupt_entry_is_fatal() -> None:
    data = encode_header(NETWORK, 1) + b"\xc1" + encode_trailer(0)
    with pytest.raises(MalformedError, match="corrupt"):
        read([data])


# The error tree


def test_error_tree_codes_and_statuses() -> None:
    expected = {
        errors.ProtocolError: (400, "invalid-record"),
        errors.MalformedError: (400, "malformed"),
        errors.NonCanonicalError: (400, "non-canonical"),
        errors.LimitError: (413, "too-large"),
        errors.UnknownAudienceError: (400, "unknown-audience"),
        errors.WrongNetworkError: (400, "wrong-network"),
        errors.BodyMismatchError: (400, "body-mismatch"),
        errors.SignatureError: (400, "bad-signature"),
        errors.BodySchemaError: (422, "invalid-body"),
        errors.SeqGapError: (409, "seq-gap"),
        errors.OriginSuspendedError: (403, "origin-suspended"),
        errors.OriginRevokedError: (403, "origin-revoked"),
        errors.AudienceNotAllowedError: (403, "audience-not-allowed"),
        errors.KeyFormatError: (400, "bad-key"),
    }
    found = {
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, ProtocolError)
    }
    assert found == set(expected)
    for cls, (status, code) in expected.items():
        assert (cls.status, cls.code) == (status, code)
        error = cls("what went wrong")
        assert error.detail == "what went wrong"
        assert str(error) == "what went wrong"
        if cls is not ProtocolError:
            assert cls.__bases__ == (ProtocolError,)
        assert code in (errors.__doc__ or "")
