"""The committed vectors: RFC 8032 for the Ed25519 layer, and our own records.

Each positive record vector must be reproduced byte for byte from its seed and
fields, and each negative one rejected with its stated error code. The
generator must still give exactly the committed file, so drift is caught.
"""

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import msgpack
import pytest

from protocol.bundle import BadEntry, BundleReader
from protocol.envelope import Envelope, decode_envelope, record_id
from protocol.errors import ProtocolError
from protocol.keys import NodeKey, key_text, parse_key_text, verify_signature
from protocol.kinds import decode_body, decode_body_map, encode_body
from protocol.limits import DEFAULT_LIMITS
from protocol.records import SignedRecord, decode_batch, decode_record, verify_record
from tests.vectors.generate import build_vectors, render

VECTORS = Path(__file__).parent / "vectors"
PROTOCOL_MD = Path(__file__).parent.parent / "docs" / "protocol.md"
RFC8032: dict[str, Any] = json.loads((VECTORS / "rfc8032.json").read_text(encoding="utf-8"))
RECORDS: dict[str, Any] = json.loads((VECTORS / "records.json").read_text(encoding="utf-8"))
KEYS = {entry["name"]: entry for entry in RECORDS["keys"]}


def _optional(hex_text: str | None) -> bytes | None:
    return None if hex_text is None else bytes.fromhex(hex_text)


def _signed(entry: dict[str, Any]) -> SignedRecord:
    return SignedRecord(
        bytes.fromhex(entry["envelope"]),
        bytes.fromhex(entry["signature"]),
        _optional(entry["body"]),
    )


def _by_name(entries: list[dict[str, Any]], field: str = "name") -> list[Any]:
    return [pytest.param(entry, id=entry[field]) for entry in entries]


# RFC 8032 section 7.1


def test_rfc8032_file_holds_the_five_section_7_1_ed25519_tests() -> None:
    names = [v["name"] for v in RFC8032["vectors"]]
    assert names == ["TEST 1", "TEST 2", "TEST 3", "TEST 1024", "TEST SHA(abc)"]
    by_name = {v["name"]: v for v in RFC8032["vectors"]}
    assert len(bytes.fromhex(by_name["TEST 1024"]["message"])) == 1023
    assert bytes.fromhex(by_name["TEST SHA(abc)"]["message"]) == hashlib.sha512(b"abc").digest()


@pytest.mark.parametrize("vector", [pytest.param(v, id=v["name"]) for v in RFC8032["vectors"]])
def test_rfc8032_key_and_signature(vector: dict[str, str]) -> None:
    key = NodeKey.from_seed(bytes.fromhex(vector["secret_key"]))
    message = bytes.fromhex(vector["message"])
    signature = bytes.fromhex(vector["signature"])
    assert key.public_key.hex() == vector["public_key"]
    assert key.sign(message) == signature
    assert verify_signature(key.public_key, message, signature)


@pytest.mark.parametrize("vector", [pytest.param(v, id=v["name"]) for v in RFC8032["vectors"]])
def test_rfc8032_flipped_bits_are_rejected(vector: dict[str, str]) -> None:
    public_key = bytes.fromhex(vector["public_key"])
    message = bytes.fromhex(vector["message"])
    signature = bytes.fromhex(vector["signature"])
    for position in (0, 31, 32, 63):
        flipped = bytearray(signature)
        flipped[position] ^= 0x01
        assert not verify_signature(public_key, message, bytes(flipped))
    altered = bytes([message[0] ^ 0x80]) + message[1:] if message else b"\x00"
    assert not verify_signature(public_key, altered, signature)
    other_key = bytearray(public_key)
    other_key[0] ^= 0x01
    assert not verify_signature(bytes(other_key), message, signature)


# Our own records


def test_the_committed_file_is_what_the_generator_builds() -> None:
    committed = (VECTORS / "records.json").read_text(encoding="utf-8")
    assert committed == render(build_vectors()), "run: python3 tests/vectors/generate.py"


def test_vectors_cover_every_kind_and_every_rejection_code() -> None:
    kinds = {r["envelope_fields"]["kind"] for r in RECORDS["records"]}
    assert {"incident", "deployment", "retraction", "membership", "node"} < kinds
    assert any(not r["known_kind"] for r in RECORDS["records"])
    assert any(r["body"] is None for r in RECORDS["records"])
    codes = {r["error"] for r in RECORDS["invalid_records"]}
    assert codes == {
        "non-canonical",
        "malformed",
        "unknown-audience",
        "wrong-network",
        "too-large",
        "body-mismatch",
        "bad-signature",
        "invalid-body",
    }


@pytest.mark.parametrize("entry", _by_name(RECORDS["keys"]))
def test_key_from_seed(entry: dict[str, str]) -> None:
    key = NodeKey.from_seed(bytes.fromhex(entry["seed"]))
    assert key.public_key.hex() == entry["public_key"]
    assert key.text == entry["key_text"] == key_text(key.public_key)
    assert parse_key_text(entry["key_text"]) == key.public_key


@pytest.mark.parametrize("entry", _by_name(RECORDS["invalid_key_texts"], "reason"))
def test_invalid_key_text_is_rejected(entry: dict[str, str]) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_key_text(entry["text"])
    assert caught.value.code == "bad-key"


@pytest.mark.parametrize("entry", _by_name(RECORDS["records"]))
def test_record_is_reproduced_byte_for_byte(entry: dict[str, Any]) -> None:
    key = NodeKey.from_seed(bytes.fromhex(KEYS[entry["key"]]["seed"]))
    fields = entry["envelope_fields"]
    assert fields["version"] == "banscan/1"
    assert fields["origin"] == key.public_key.hex()
    envelope = Envelope(
        network_id=fields["network_id"],
        origin=bytes.fromhex(fields["origin"]),
        audience=fields["audience"],
        seq=fields["seq"],
        created_ms=fields["created_ms"],
        kind=fields["kind"],
        body_sha256=bytes.fromhex(fields["body_sha256"]),
        body_len=fields["body_len"],
    )
    envelope_bytes = envelope.encode()
    assert envelope_bytes.hex() == entry["envelope"]
    assert decode_envelope(envelope_bytes) == envelope
    assert record_id(envelope_bytes).hex() == entry["record_id"]
    assert key.sign(envelope_bytes).hex() == entry["signature"]
    signed = _signed(entry)
    assert signed.encode().hex() == entry["wire"]
    assert decode_record(bytes.fromhex(entry["wire"]), DEFAULT_LIMITS) == signed
    if entry["body"] is not None:
        body = bytes.fromhex(entry["body"])
        assert hashlib.sha256(body).hexdigest() == fields["body_sha256"]
        assert len(body) == fields["body_len"]
        assert decode_body_map(body) == entry["body_map"]
        assert msgpack.packb(entry["body_map"], use_bin_type=True) == body


@pytest.mark.parametrize("entry", _by_name(RECORDS["records"]))
def test_record_verifies(entry: dict[str, Any]) -> None:
    verified = verify_record(
        _signed(entry), network_id=RECORDS["network_id"], limits=DEFAULT_LIMITS
    )
    assert verified.id.hex() == entry["record_id"]
    assert verified.envelope.kind == entry["envelope_fields"]["kind"]
    if entry["known_kind"] and entry["body"] is not None:
        assert verified.content is not None
        # A node publishes its bodies exactly as encode_body writes them.
        assert encode_body(verified.content).hex() == entry["body"]
        assert decode_body(verified.envelope.kind, bytes.fromhex(entry["body"])) == (
            verified.content
        )
    else:
        assert verified.content is None


@pytest.mark.parametrize("entry", _by_name(RECORDS["invalid_records"]))
def test_invalid_record_is_rejected_with_its_code(entry: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as caught:
        verify_record(_signed(entry), network_id=RECORDS["network_id"], limits=DEFAULT_LIMITS)
    assert caught.value.code == entry["error"], caught.value.detail


def test_batch_vector_holds_every_record_in_order() -> None:
    records = decode_batch(bytes.fromhex(RECORDS["batch"]), DEFAULT_LIMITS)
    assert [r.id.hex() for r in records] == [e["record_id"] for e in RECORDS["records"]]
    assert [r.encode().hex() for r in records] == [e["wire"] for e in RECORDS["records"]]


def test_bundle_vector_reads_back_every_record() -> None:
    reader = BundleReader(DEFAULT_LIMITS)
    items = list(reader.feed(bytes.fromhex(RECORDS["bundle"])))
    reader.finish()
    assert reader.header is not None
    assert reader.header.network_id == RECORDS["network_id"]
    assert not [item for item in items if isinstance(item, BadEntry)]
    assert [item.encode().hex() for item in items if isinstance(item, SignedRecord)] == [
        e["wire"] for e in RECORDS["records"]
    ]


def _annotated_hex_blocks(markdown: str) -> dict[str, bytes]:
    """The ```hex blocks of a page: name (first line) -> the bytes of the hex columns."""
    blocks = {}
    for block in re.findall(r"^```hex\n(.*?)^```", markdown, flags=re.DOTALL | re.MULTILINE):
        name, *lines = block.splitlines()
        hex_columns = [re.split(r"\s{2,}", line.strip())[0] for line in lines]
        blocks[name] = bytes.fromhex("".join(hex_columns))
    return blocks


def test_worked_example_in_protocol_md_matches_the_vector() -> None:
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    vector = next(r for r in RECORDS["records"] if r["name"] == "retraction")
    blocks = _annotated_hex_blocks(text)
    assert blocks["envelope"].hex() == vector["envelope"]
    assert blocks["body"].hex() == vector["body"]
    assert vector["record_id"] in text
    signature = vector["signature"]
    assert f"{signature[:64]}\n{signature[64:]}" in text
    assert KEYS["chapter"]["key_text"] in text
    assert f"{len(bytes.fromhex(vector['wire']))} bytes" in text
