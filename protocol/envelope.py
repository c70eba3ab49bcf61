"""The signed envelope: a msgpack array in a fixed order (docs/protocol.md section 3).

``["banscan/1", network_id, origin, audience, seq, created_ms, kind,
body_sha256, body_len]``, with ``origin`` and ``body_sha256`` as 32-byte bin,
integers unsigned, no maps and no floats. A receiver decodes the bytes it was
given, re-encodes the values and rejects the envelope unless both are
identical, so every envelope has exactly one byte form and one id.
"""

import hashlib
import re
from dataclasses import dataclass
from typing import Final, Literal, get_args

import msgpack

from protocol import PROTOCOL_VERSION
from protocol.errors import (
    MalformedError,
    NonCanonicalError,
    ProtocolError,
    UnknownAudienceError,
)

Audience = Literal["public", "network", "coordinators"]
AUDIENCES: Final[tuple[str, ...]] = get_args(Audience)

NETWORK_ID_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
KIND_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_UINT63: Final = 2**63 - 1  # what SQLite's INTEGER holds
ENVELOPE_FIELDS: Final = 9


@dataclass(frozen=True, slots=True)
class Envelope:
    network_id: str
    origin: bytes
    audience: str
    seq: int
    created_ms: int
    kind: str
    body_sha256: bytes
    body_len: int

    def __post_init__(self) -> None:
        _check_fields(self)

    def encode(self) -> bytes:
        """The canonical bytes of this envelope: what is signed and hashed."""
        return msgpack.packb(
            [
                PROTOCOL_VERSION,
                self.network_id,
                self.origin,
                self.audience,
                self.seq,
                self.created_ms,
                self.kind,
                self.body_sha256,
                self.body_len,
            ],
            use_bin_type=True,
        )


def record_id(envelope_bytes: bytes) -> bytes:
    """A record's id: SHA-256 of its envelope bytes."""
    return hashlib.sha256(envelope_bytes).digest()


def decode_envelope(data: bytes) -> Envelope:
    """Decode envelope bytes, refusing anything that is not in canonical form."""
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_array_len=ENVELOPE_FIELDS,
            max_map_len=0,
            max_ext_len=0,
            max_str_len=len(data),
            max_bin_len=len(data),
        )
    except Exception as exc:  # msgpack raises many unrelated types on bad input
        raise MalformedError("envelope is not valid msgpack") from exc
    if not isinstance(value, list) or len(value) != ENVELOPE_FIELDS:
        raise MalformedError(f"envelope must be a msgpack array of {ENVELOPE_FIELDS} items")
    version, network_id, origin, audience, seq, created_ms, kind, body_sha256, body_len = value
    if version != PROTOCOL_VERSION:
        raise MalformedError(f"envelope version must be {PROTOCOL_VERSION!r}")
    envelope = Envelope(network_id, origin, audience, seq, created_ms, kind, body_sha256, body_len)
    if envelope.encode() != data:
        raise NonCanonicalError("envelope bytes are not in canonical msgpack form")
    return envelope


_FIELD_TYPES: Final = (
    ("network_id", str),
    ("origin", bytes),
    ("audience", str),
    ("seq", int),
    ("created_ms", int),
    ("kind", str),
    ("body_sha256", bytes),
    ("body_len", int),
)


def _check_fields(env: Envelope) -> None:
    # Exact types, also when a node builds its own envelope: a bool or float
    # would otherwise be signed into bytes that no receiver accepts.
    for name, expected in _FIELD_TYPES:
        if type(getattr(env, name)) is not expected:
            raise MalformedError(f"envelope field {name} must be {expected.__name__}")
    if not NETWORK_ID_PATTERN.fullmatch(env.network_id):
        raise MalformedError("network_id must match [a-z0-9][a-z0-9._-]{0,62}")
    if len(env.origin) != 32:
        raise MalformedError("origin must be a 32-byte Ed25519 public key")
    if env.audience not in AUDIENCES:
        raise UnknownAudienceError(
            f"audience {env.audience[:40]!r} is not one of {', '.join(AUDIENCES)}"
        )
    if not 1 <= env.seq <= MAX_UINT63:
        raise MalformedError("seq must be an integer from 1 to 2**63-1")
    if not 0 <= env.created_ms <= MAX_UINT63:
        raise MalformedError("created_ms must be an integer from 0 to 2**63-1")
    if not KIND_PATTERN.fullmatch(env.kind):
        raise MalformedError("kind must match [a-z][a-z0-9_]{0,31}")
    if len(env.body_sha256) != 32:
        raise MalformedError("body_sha256 must be 32 bytes")
    if not 0 <= env.body_len <= MAX_UINT63:
        raise MalformedError("body_len must be a non-negative integer")


__all__ = [
    "AUDIENCES",
    "Audience",
    "Envelope",
    "ProtocolError",
    "decode_envelope",
    "record_id",
]
