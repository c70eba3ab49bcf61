"""Property tests: every decoder refuses bad input with the protocol's own errors only,
and encoding, signing and bundling round-trip.

Inputs come in three shapes, from cheap to deep: random bytes; msgpack of random
values, so a decoder gets past the first byte; and valid bytes with a few bytes
changed, so the later checks (canonical form, hashes, signatures, schemas) run.
"""

import contextlib
import datetime
import hashlib
from typing import Any

import msgpack
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from protocol.bundle import BadEntry, BundleReader, encode_header, encode_trailer
from protocol.countries import COUNTRY_CODES
from protocol.envelope import AUDIENCES, MAX_UINT63, Envelope, decode_envelope
from protocol.errors import ProtocolError
from protocol.fields import GEOHASH_ALPHABET
from protocol.keys import (
    KEY_PREFIX,
    NodeKey,
    b64url_decode,
    b64url_encode,
    key_text,
    parse_key_text,
)
from protocol.kinds import KIND_MODELS, KNOWN_KINDS, decode_body, decode_body_map, validate_body
from protocol.limits import DEFAULT_LIMITS
from protocol.records import (
    SignedRecord,
    decode_batch,
    decode_record,
    encode_batch,
    sign_record,
    verify_record,
)
from tests.factories import NETWORK, feed, incident_body, seeded_key, signed

FUZZ = settings(max_examples=200, deadline=None)
FUZZ_EACH_KIND = settings(max_examples=60, deadline=None)
ROUND_TRIP = settings(max_examples=100, deadline=None)
KEY = seeded_key("properties")
VALID_RECORD = signed(KEY, 1)
VALID_BUNDLE = (
    encode_header(NETWORK, 1) + b"".join(r.encode() for r in feed(KEY, 3)) + encode_trailer(3)
)

# Strategies

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=True)
    | st.text(max_size=40)
    | st.binary(max_size=80)
)
msgpack_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=10)
        | st.dictionaries(st.text(max_size=12) | st.binary(max_size=4), children, max_size=6)
    ),
    max_leaves=30,
)
packed_values = msgpack_values.map(lambda value: msgpack.packb(value, use_bin_type=True))


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few bytes overwritten, inserted or deleted."""
    buffer = bytearray(data)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=max(len(buffer) - 1, 0)))
        action = draw(st.sampled_from(["overwrite", "insert", "delete", "flip"]))
        if action == "overwrite" and buffer:
            buffer[position] = draw(st.integers(min_value=0, max_value=255))
        elif action == "flip" and buffer:
            buffer[position] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif action == "insert":
            buffer.insert(position, draw(st.integers(min_value=0, max_value=255)))
        elif buffer:
            del buffer[position]
    return bytes(buffer)


def any_bytes(valid: bytes) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=600) | packed_values | mutated(valid)


network_ids = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,62}", fullmatch=True)
kinds = st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True)
envelopes = st.builds(
    Envelope,
    network_id=network_ids,
    origin=st.binary(min_size=32, max_size=32),
    audience=st.sampled_from(AUDIENCES),
    seq=st.integers(min_value=1, max_value=MAX_UINT63),
    created_ms=st.integers(min_value=0, max_value=MAX_UINT63),
    kind=kinds,
    body_sha256=st.binary(min_size=32, max_size=32),
    body_len=st.integers(min_value=0, max_value=MAX_UINT63),
)
short_text = st.text(st.characters(codec="utf-8"), max_size=200)


def partial_date(day: datetime.date, precision: str) -> dict[str, str]:
    """A partial date: its date is the first day of the period it names."""
    if precision != "day":
        day = day.replace(day=1) if precision == "month" else day.replace(month=1, day=1)
    return {"date": day.isoformat(), "precision": precision}


incidents = st.fixed_dictionaries(
    {
        "occurred_on": st.builds(
            partial_date, st.dates(), st.sampled_from(["day", "month", "year"])
        ),
        "country": st.sampled_from(sorted(COUNTRY_CODES)),
        "category": st.sampled_from(["harassment", "data_sharing", "other"]),
        "technology": st.fixed_dictionaries(
            {"type": st.sampled_from(["live_frt", "drone"])}, optional={"detail": short_text}
        ),
        "summary": st.text(max_size=2000),
    },
    optional={
        "region": short_text,
        "city": short_text,
        "area": st.text(GEOHASH_ALPHABET, min_size=1, max_size=6),
        "tags": st.lists(st.text(min_size=1, max_size=64), max_size=32),
    },
)


def raises_only_protocol_errors(call: Any, *args: Any) -> None:
    with contextlib.suppress(ProtocolError):
        call(*args)


# Every decoder refuses bad input with a ProtocolError, never anything else


@FUZZ
@given(any_bytes(VALID_RECORD.envelope_bytes))
def test_decode_envelope(data: bytes) -> None:
    raises_only_protocol_errors(decode_envelope, data)


@FUZZ
@given(
    st.lists(scalars, min_size=9, max_size=9).map(
        lambda items: msgpack.packb(["banscan/1", *items[1:]], use_bin_type=True)
    )
)
def test_decode_envelope_of_nine_random_items(data: bytes) -> None:
    raises_only_protocol_errors(decode_envelope, data)


@FUZZ
@given(any_bytes(VALID_RECORD.encode()))
def test_decode_record(data: bytes) -> None:
    raises_only_protocol_errors(decode_record, data, DEFAULT_LIMITS)


@FUZZ
@given(any_bytes(encode_batch(feed(KEY, 2))))
def test_decode_batch(data: bytes) -> None:
    raises_only_protocol_errors(decode_batch, data, DEFAULT_LIMITS)


@FUZZ
@given(any_bytes(VALID_RECORD.body or b""))
def test_decode_body_map(data: bytes) -> None:
    try:
        value = decode_body_map(data)
    except ProtocolError:
        return
    assert isinstance(value, dict)


@pytest.mark.parametrize("kind", KNOWN_KINDS)
@FUZZ_EACH_KIND
@given(data=st.data())
def test_decode_body_of_each_kind(kind: str, data: st.DataObject) -> None:
    fields = [*KIND_MODELS[kind].model_fields, "lat", "lat_e7", "extra"]
    body = data.draw(
        any_bytes(VALID_RECORD.body or b"")
        | st.dictionaries(st.sampled_from(fields), msgpack_values, max_size=8).map(
            lambda value: msgpack.packb(value, use_bin_type=True)
        )
    )
    raises_only_protocol_errors(decode_body, kind, body)


@FUZZ
@given(st.text(max_size=60) | st.text(max_size=50).map(lambda text: KEY_PREFIX + text))
def test_parse_key_text(text: str) -> None:
    try:
        key = parse_key_text(text)
    except ProtocolError:
        return
    assert key_text(key) == text


@FUZZ
@given(st.text(max_size=60) | st.text("ABCDEFabcdef0189-_+/=", max_size=60))
def test_b64url_decode_raises_only_value_error(text: str) -> None:
    try:
        data = b64url_decode(text)
    except ValueError:
        return
    assert b64url_encode(data) == text


@FUZZ
@given(
    any_bytes(VALID_BUNDLE),
    st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=8),
)
def test_bundle_reader(data: bytes, sizes: list[int]) -> None:
    reader = BundleReader(DEFAULT_LIMITS)
    try:
        start = 0
        for size in sizes * (len(data) // sum(sizes) + 1):
            for item in reader.feed(data[start : start + size]):
                assert isinstance(item, SignedRecord | BadEntry)
            start += size
            if start >= len(data):
                break
        reader.finish()
    except ProtocolError:
        pass


@FUZZ
@given(
    st.builds(
        SignedRecord,
        any_bytes(VALID_RECORD.envelope_bytes),
        st.binary(max_size=70) | mutated(VALID_RECORD.signature),
        st.none() | any_bytes(VALID_RECORD.body or b""),
    )
)
def test_verify_record_on_random_triples(record: SignedRecord) -> None:
    raises_only_protocol_errors(
        lambda: verify_record(record, network_id=NETWORK, limits=DEFAULT_LIMITS)
    )


@FUZZ
@given(st.sampled_from(KNOWN_KINDS), any_bytes(VALID_RECORD.body or b""))
def test_verify_record_with_a_good_signature_over_a_random_body(kind: str, body: bytes) -> None:
    # Signed correctly, so verification reaches the body's schema.
    record = sign_record(
        KEY, network_id=NETWORK, audience="public", seq=1, created_ms=0, kind=kind, body=body
    )
    raises_only_protocol_errors(
        lambda: verify_record(record, network_id=NETWORK, limits=DEFAULT_LIMITS)
    )


# Round trips


@ROUND_TRIP
@given(envelopes)
def test_envelope_round_trip(envelope: Envelope) -> None:
    data = envelope.encode()
    assert len(data) <= DEFAULT_LIMITS.max_envelope_bytes
    assert decode_envelope(data) == envelope
    assert decode_envelope(data).encode() == data


@ROUND_TRIP
@given(
    seed=st.binary(min_size=32, max_size=32),
    kind=kinds.filter(lambda kind: kind not in KIND_MODELS),
    body=st.binary(max_size=2000),
    audience=st.sampled_from(AUDIENCES),
    seq=st.integers(min_value=1, max_value=MAX_UINT63),
)
def test_sign_then_verify_opaque_bodies(
    seed: bytes, kind: str, body: bytes, audience: str, seq: int
) -> None:
    key = NodeKey.from_seed(seed)
    record = sign_record(
        key, network_id=NETWORK, audience=audience, seq=seq, created_ms=1, kind=kind, body=body
    )
    verified = verify_record(record, network_id=NETWORK, limits=DEFAULT_LIMITS)
    assert verified.envelope.origin == key.public_key
    assert verified.envelope.body_sha256 == hashlib.sha256(body).digest()
    assert verified.body == body
    assert verified.content is None
    assert decode_record(record.encode(), DEFAULT_LIMITS) == record


@ROUND_TRIP
@given(incidents)
def test_sign_then_verify_incidents(body: dict[str, Any]) -> None:
    raw = msgpack.packb(body, use_bin_type=True)
    assume(len(raw) <= DEFAULT_LIMITS.max_body_bytes)
    record = signed(KEY, 1, body=raw)
    verified = verify_record(record, network_id=NETWORK, limits=DEFAULT_LIMITS)
    assert verified.content == validate_body("incident", body)


@ROUND_TRIP
@given(st.lists(st.binary(max_size=300), max_size=20), st.data())
def test_batch_and_bundle_round_trip(bodies: list[bytes], data: st.DataObject) -> None:
    records = [signed(KEY, seq, kind="blob", body=body) for seq, body in enumerate(bodies, start=1)]
    assert decode_batch(encode_batch(records), DEFAULT_LIMITS) == records
    bundle = encode_header(NETWORK, 0) + b"".join(r.encode() for r in records)
    bundle += encode_trailer(len(records))
    size = data.draw(st.integers(min_value=1, max_value=len(bundle)))
    reader = BundleReader(DEFAULT_LIMITS)
    items = [
        item
        for start in range(0, len(bundle), size)
        for item in reader.feed(bundle[start : start + size])
    ]
    reader.finish()
    assert items == records


@ROUND_TRIP
@given(st.binary(max_size=100))
def test_b64url_round_trip(data: bytes) -> None:
    assert b64url_decode(b64url_encode(data)) == data


@ROUND_TRIP
@given(st.binary(min_size=32, max_size=32))
def test_key_text_round_trip(public_key: bytes) -> None:
    assert parse_key_text(key_text(public_key)) == public_key


def test_strategies_reach_past_the_first_check() -> None:
    """The valid inputs the mutations start from are valid."""
    verify_record(VALID_RECORD, network_id=NETWORK, limits=DEFAULT_LIMITS)
    validate_body("incident", incident_body())
    reader = BundleReader(DEFAULT_LIMITS)
    assert len(list(reader.feed(VALID_BUNDLE))) == 3
    reader.finish()
