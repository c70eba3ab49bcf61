"""Publishing this node's own records, from the API and from the CLI alike."""

from collections.abc import Callable
from typing import Any

from protocol.envelope import AUDIENCES
from protocol.errors import BodySchemaError, UnknownAudienceError
from protocol.keys import NodeKey
from protocol.kinds import KNOWN_KINDS, encode_body, validate_body
from protocol.limits import Limits
from protocol.records import VerifiedRecord, seal_record
from storage.records import RecordStore


async def publish(
    records: RecordStore,
    key: NodeKey,
    *,
    network_id: str,
    limits: Limits,
    kind: str,
    audience: str,
    body: Any,
    clock: Callable[[], int],
) -> VerifiedRecord:
    """Validate ``body`` against its kind, sign it as the feed's next record and store it."""
    if audience not in AUDIENCES:
        raise UnknownAudienceError(
            f"audience {str(audience)[:40]!r} is not one of {', '.join(AUDIENCES)}"
        )
    if kind not in KNOWN_KINDS:
        raise BodySchemaError(
            f"kind {str(kind)[:40]!r} is not one this node can publish: {', '.join(KNOWN_KINDS)}"
        )
    if not isinstance(body, dict):
        raise BodySchemaError(f"the body of a {kind} record must be a JSON object")
    content = validate_body(kind, body)
    limits.check_body(len(encode_body(content)))
    return await records.append(
        key.public_key,
        audience,
        lambda seq: seal_record(
            key,
            network_id=network_id,
            audience=audience,
            seq=seq,
            created_ms=clock(),
            kind=kind,
            content=content,
        ),
    )
