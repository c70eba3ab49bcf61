"""JSON views of records, as the API serves them."""

from typing import Any

from protocol.envelope import Envelope
from protocol.keys import b64url_encode, key_text
from protocol.kinds import decode_body_map, is_known_kind


def record_view(
    envelope: Envelope,
    envelope_bytes: bytes,
    signature: bytes,
    body: bytes | None,
    record_id: bytes,
) -> dict[str, Any]:
    """A record with its decoded body and the signed bytes any client can verify again.

    ``body`` is null when the body was erased or its kind is unknown to this
    version (it is then relayed as opaque bytes in ``signed.body``).
    """
    decoded = decode_body_map(body) if body is not None and is_known_kind(envelope.kind) else None
    return {
        "id": record_id.hex(),
        "origin": key_text(envelope.origin),
        "audience": envelope.audience,
        "seq": envelope.seq,
        "created_ms": envelope.created_ms,
        "kind": envelope.kind,
        "body": decoded,
        "erased": body is None,
        "signed": {
            "envelope": b64url_encode(envelope_bytes),
            "signature": b64url_encode(signature),
            "body": b64url_encode(body) if body is not None else None,
        },
    }
