"""Publishing this node's own records, from the API and from the CLI alike."""

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from node.deadlines import LawDeadline, complete_due_on
from protocol.campaign import RecordsRequest
from protocol.envelope import AUDIENCES
from protocol.errors import BodySchemaError, UnknownAudienceError
from protocol.fields import StrictModel
from protocol.keys import NodeKey
from protocol.kinds import KNOWN_KINDS, Retraction, encode_body, validate_body
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
    check: Callable[[sqlite3.Connection], None] | None = None,
    deadlines: Mapping[str, LawDeadline] | None = None,
) -> VerifiedRecord:
    """Validate ``body`` against its kind, sign it as the feed's next record and store it.

    ``check`` runs first in the storing transaction (a writer's token still held).
    A records request without ``due_on`` gets it from ``deadlines`` (node.deadlines)."""
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
    if isinstance(content, RecordsRequest) and deadlines is not None:
        content = complete_due_on(content, deadlines)
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
        check=check,
    )


async def publish_many(
    records: RecordStore,
    key: NodeKey,
    *,
    network_id: str,
    limits: Limits,
    kind: str,
    audience: str,
    bodies: Sequence[Any],
    clock: Callable[[], int],
) -> list[VerifiedRecord]:
    """:func:`publish` for several bodies of one kind and audience, signed at consecutive
    seqs and stored in one transaction: all of them, or (one body invalid) none."""
    if audience not in AUDIENCES or kind not in KNOWN_KINDS:
        raise BodySchemaError(f"cannot publish {str(kind)[:40]!r} to {str(audience)[:40]!r}")
    builds = []
    for body in bodies:
        content = validate_body(kind, body)
        encoded = encode_body(content)
        limits.check_body(len(encoded))
        builds.append(_builder(key, network_id, audience, kind, content, encoded, clock))
    return await records.append_many(key.public_key, audience, builds)


def _builder(
    key: NodeKey,
    network_id: str,
    audience: str,
    kind: str,
    content: StrictModel,
    body: bytes,
    clock: Callable[[], int],
) -> Callable[[int], VerifiedRecord]:
    return lambda seq: seal_record(
        key,
        network_id=network_id,
        audience=audience,
        seq=seq,
        created_ms=clock(),
        kind=kind,
        content=content,
        body=body,
    )


def retraction_target(kind: object, body: object) -> bytes | None:
    """The id of the record a valid ``retraction`` body names; None for any other
    kind or an invalid body, which :func:`publish` refuses as such."""
    if kind != "retraction":
        return None
    try:
        content = validate_body("retraction", body)
    except BodySchemaError:
        return None
    assert isinstance(content, Retraction)
    return bytes.fromhex(content.target)


async def signed_here(records: RecordStore, key: NodeKey, record_id: bytes) -> bool:
    """Whether this node holds ``record_id`` and signed it with its current key."""
    held = await records.get(record_id)
    return held is not None and held.envelope.origin == key.public_key
