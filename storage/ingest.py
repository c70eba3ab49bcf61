"""The ingest pipeline: check a batch, then store it in one transaction.

Checking (sizes, canonical envelope, signature, body hash, schema) is done by
a :class:`Checker` the caller supplies, such as ``federation.verifier``'s
thread pool; storage only stores what it is given checked.
"""

import sqlite3
from collections.abc import Callable, Collection, Sequence
from typing import Protocol

from protocol.errors import AudienceNotAllowedError, ProtocolError
from protocol.records import SignedRecord, VerifiedRecord
from storage.classify import IngestResult, Outcome
from storage.records import RecordStore


class Checker(Protocol):
    """Checks a batch of records: each one verified, or the error it fails with."""

    async def check_all(
        self, records: Sequence[SignedRecord]
    ) -> list[VerifiedRecord | ProtocolError]: ...


async def ingest_batch(
    checker: Checker,
    records: RecordStore,
    batch: Sequence[SignedRecord],
    *,
    atomic: bool,
    audiences: Collection[str] | None = None,
    check: Callable[[sqlite3.Connection], None] | None = None,
    defer: bool = False,
) -> list[IngestResult]:
    """Verify and store a batch. Atomic: any rejection stores nothing, and every result says so.

    With ``audiences``, a record of any other audience is refused (a node never holds
    what it may not receive). ``check`` runs first in the storing transaction. With
    ``defer``, the batch is acknowledged once logged and indexed later
    (:meth:`storage.records.RecordStore.ingest`)."""
    checked: list[VerifiedRecord | ProtocolError] = await checker.check_all(batch)
    if audiences is not None:
        checked = [
            AudienceNotAllowedError(f"this node may not hold the {item.envelope.audience} audience")
            if isinstance(item, VerifiedRecord) and item.envelope.audience not in audiences
            else item
            for item in checked
        ]
    verified = [item for item in checked if isinstance(item, VerifiedRecord)]
    failed = {
        index: IngestResult(batch[index].id, Outcome.REJECTED, item)
        for index, item in enumerate(checked)
        if isinstance(item, ProtocolError)
    }
    if failed and atomic:
        return [
            failed.get(index, IngestResult(record.id, Outcome.REJECTED))
            for index, record in enumerate(batch)
        ]
    stored = iter(
        await records.ingest(verified, atomic=atomic, check=check, defer=defer) if verified else []
    )
    return [failed[index] if index in failed else next(stored) for index in range(len(batch))]
