"""Signed records: signing, the wire form, batches, and the checks a receiver makes.

A record travels as a msgpack array ``[envelope, signature, body]`` (bin, bin,
bin or nil when the body was erased). :func:`verify_record` runs the checks in
order of cost: sizes, envelope decoding and canonical form, network, body
hash, signature, then the kind's schema. It verifies the bytes received and
only then interprets them.
"""

import hashlib
from dataclasses import dataclass
from typing import Any

import msgpack

from protocol.envelope import Envelope, decode_envelope, record_id
from protocol.errors import (
    BodyMismatchError,
    LimitError,
    MalformedError,
    ProtocolError,
    SignatureError,
    WrongNetworkError,
)
from protocol.fields import StrictModel
from protocol.keys import SIGNATURE_BYTES, NodeKey, verify_signature
from protocol.kinds import decode_body, encode_body, is_known_kind
from protocol.limits import Limits


@dataclass(frozen=True, slots=True)
class SignedRecord:
    """A record as it travels: exact envelope bytes, signature, and body (None if erased)."""

    envelope_bytes: bytes
    signature: bytes
    body: bytes | None

    @property
    def id(self) -> bytes:
        return record_id(self.envelope_bytes)

    def to_wire(self) -> list[bytes | None]:
        return [self.envelope_bytes, self.signature, self.body]

    def encode(self) -> bytes:
        return msgpack.packb(self.to_wire(), use_bin_type=True)


@dataclass(frozen=True, slots=True)
class VerifiedRecord:
    """A record whose signature, body hash and body schema have been checked."""

    id: bytes
    envelope: Envelope
    envelope_bytes: bytes
    signature: bytes
    body: bytes | None
    content: StrictModel | None  # the decoded body, for known kinds with a body

    def signed(self) -> SignedRecord:
        return SignedRecord(self.envelope_bytes, self.signature, self.body)


def sign_record(
    key: NodeKey,
    *,
    network_id: str,
    audience: str,
    seq: int,
    created_ms: int,
    kind: str,
    body: bytes,
) -> SignedRecord:
    """Make and sign the envelope for ``body`` (docs/protocol.md section 4)."""
    envelope = Envelope(
        network_id=network_id,
        origin=key.public_key,
        audience=audience,
        seq=seq,
        created_ms=created_ms,
        kind=kind,
        body_sha256=hashlib.sha256(body).digest(),
        body_len=len(body),
    )
    envelope_bytes = envelope.encode()
    return SignedRecord(envelope_bytes, key.sign(envelope_bytes), body)


def seal_record(
    key: NodeKey,
    *,
    network_id: str,
    audience: str,
    seq: int,
    created_ms: int,
    kind: str,
    content: StrictModel,
    body: bytes | None = None,
) -> VerifiedRecord:
    """Sign this node's own record for an already validated body; ``body`` is
    ``encode_body(content)`` when the caller has it already (it checked its size)."""
    body = encode_body(content) if body is None else body
    signed = sign_record(
        key,
        network_id=network_id,
        audience=audience,
        seq=seq,
        created_ms=created_ms,
        kind=kind,
        body=body,
    )
    return VerifiedRecord(
        id=signed.id,
        envelope=decode_envelope(signed.envelope_bytes),
        envelope_bytes=signed.envelope_bytes,
        signature=signed.signature,
        body=body,
        content=content,
    )


def precheck_record(record: SignedRecord, *, network_id: str, limits: Limits) -> Envelope:
    """The checks before the signature: sizes, canonical envelope, network, body hash."""
    limits.check_envelope(len(record.envelope_bytes))
    if record.body is not None:
        limits.check_body(len(record.body))
    envelope = decode_envelope(record.envelope_bytes)
    if envelope.network_id != network_id:
        raise WrongNetworkError(
            f"record is signed for network {envelope.network_id!r}, not {network_id!r}"
        )
    limits.check_body(envelope.body_len)
    if record.body is not None and (
        len(record.body) != envelope.body_len
        or hashlib.sha256(record.body).digest() != envelope.body_sha256
    ):
        raise BodyMismatchError("body does not match the envelope's body_sha256 and body_len")
    return envelope


def check_signature(record: SignedRecord, envelope: Envelope) -> None:
    if not verify_signature(envelope.origin, record.envelope_bytes, record.signature):
        raise invalid_signature()


def invalid_signature() -> SignatureError:
    return SignatureError("signature does not verify against the origin key")


def finish_record(record: SignedRecord, envelope: Envelope) -> VerifiedRecord:
    """The checks after the signature: the body's schema."""
    content = None
    if record.body is not None and is_known_kind(envelope.kind):
        content = decode_body(envelope.kind, record.body)
    return VerifiedRecord(
        id=record_id(record.envelope_bytes),
        envelope=envelope,
        envelope_bytes=record.envelope_bytes,
        signature=record.signature,
        body=record.body,
        content=content,
    )


def verify_record(record: SignedRecord, *, network_id: str, limits: Limits) -> VerifiedRecord:
    """Check a received record completely, or raise the :class:`ProtocolError` that says why."""
    envelope = precheck_record(record, network_id=network_id, limits=limits)
    check_signature(record, envelope)
    return finish_record(record, envelope)


def record_from_wire(value: Any) -> SignedRecord:
    """A record from its decoded wire form ``[envelope, signature, body|nil]``."""
    if not isinstance(value, list) or len(value) != 3:
        raise MalformedError("a record must be a msgpack array [envelope, signature, body]")
    envelope_bytes, signature, body = value
    if type(envelope_bytes) is not bytes or type(signature) is not bytes:
        raise MalformedError("a record's envelope and signature must be msgpack bin")
    if body is not None and type(body) is not bytes:
        raise MalformedError("a record's body must be msgpack bin or nil")
    if len(signature) != SIGNATURE_BYTES:
        raise SignatureError(f"a signature is {SIGNATURE_BYTES} bytes, not {len(signature)}")
    return SignedRecord(envelope_bytes, signature, body)


def decode_record(data: bytes, limits: Limits) -> SignedRecord:
    """One record from its msgpack bytes."""
    return _within_limits(record_from_wire(_unpack_one(data, limits)), limits)


def _within_limits(record: SignedRecord, limits: Limits) -> SignedRecord:
    limits.check_envelope(len(record.envelope_bytes))
    if record.body is not None:
        limits.check_body(len(record.body))
    return record


def decode_batch(data: bytes, limits: Limits) -> list[SignedRecord]:
    """A batch: a msgpack array of records, bounded in bytes and in count."""
    limits.check_batch_bytes(len(data))
    unpacker = _unpacker(limits, len(data))
    unpacker.feed(data)
    try:
        count = unpacker.read_array_header()
    except Exception as exc:  # msgpack raises many unrelated types on bad input
        raise MalformedError("a batch must be a msgpack array of records") from exc
    limits.check_batch_records(count)
    records = []
    for index in range(count):
        try:
            value = unpacker.unpack()
        except Exception as exc:  # msgpack raises many unrelated types on bad input
            raise MalformedError(f"record {index} of the batch is not valid msgpack") from exc
        try:
            records.append(_within_limits(record_from_wire(value), limits))
        except ProtocolError as exc:
            raise type(exc)(f"record {index} of the batch: {exc.detail}") from exc
    if unpacker.tell() != len(data):
        raise MalformedError("trailing bytes after the batch")
    return records


def encode_batch(records: list[SignedRecord]) -> bytes:
    return msgpack.packb([r.to_wire() for r in records], use_bin_type=True)


def _unpacker(limits: Limits, buffer_size: int) -> msgpack.Unpacker:
    return msgpack.Unpacker(
        raw=False,
        use_list=True,
        strict_map_key=True,
        max_buffer_size=max(buffer_size, 1),
        # Bounded by the buffer (itself bounded by the batch limit), so that an
        # oversized envelope or body is reported as too large, not as malformed.
        max_bin_len=max(buffer_size, 1),
        max_str_len=max(buffer_size, 1),
        max_array_len=max(limits.max_batch_records, 3),
        max_map_len=64,
        max_ext_len=0,
    )


def _unpack_one(data: bytes, limits: Limits) -> Any:
    if len(data) > limits.max_envelope_bytes + limits.max_body_bytes + 128:
        raise LimitError("record is larger than the envelope and body limits allow")
    unpacker = _unpacker(limits, len(data))
    unpacker.feed(data)
    try:
        value = unpacker.unpack()
    except Exception as exc:  # msgpack raises many unrelated types on bad input
        raise MalformedError("record is not valid msgpack") from exc
    if unpacker.tell() != len(data):
        raise MalformedError("trailing bytes after the record")
    return value
