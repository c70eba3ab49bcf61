"""The ingest pipeline: verify a batch on worker threads, then store it in one transaction.

Signature checks dominate the cost of ingest. libsodium releases the GIL
while it verifies, so chunks of a batch are checked on a small thread pool
and the event loop stays free for other requests.
"""

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from protocol.errors import ProtocolError
from protocol.limits import Limits
from protocol.records import SignedRecord, VerifiedRecord, verify_record
from storage.records import IngestResult, Outcome, RecordStore


class Verifier:
    """Checks batches of records on a thread pool; owns the pool and shuts it down."""

    def __init__(self, network_id: str, limits: Limits, threads: int = 0) -> None:
        self.network_id = network_id
        self.limits = limits
        self.threads = threads or min(4, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="banscan-verify")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def check(self, record: SignedRecord) -> VerifiedRecord | ProtocolError:
        try:
            return verify_record(record, network_id=self.network_id, limits=self.limits)
        except ProtocolError as exc:
            return exc

    def _check_chunk(self, chunk: Sequence[SignedRecord]) -> list[VerifiedRecord | ProtocolError]:
        return [self.check(record) for record in chunk]

    async def check_all(
        self, records: Sequence[SignedRecord]
    ) -> list[VerifiedRecord | ProtocolError]:
        if len(records) < 2 * self.threads:
            return self._check_chunk(records)
        loop = asyncio.get_running_loop()
        size = -(-len(records) // self.threads)
        chunks = [records[i : i + size] for i in range(0, len(records), size)]
        done = await asyncio.gather(
            *(loop.run_in_executor(self._pool, self._check_chunk, chunk) for chunk in chunks)
        )
        return [item for part in done for item in part]


async def ingest_batch(
    verifier: Verifier, records: RecordStore, batch: Sequence[SignedRecord], *, atomic: bool
) -> list[IngestResult]:
    """Verify and store a batch. Atomic: any rejection stores nothing, and every result says so."""
    checked = await verifier.check_all(batch)
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
    stored = iter(await records.ingest(verified, atomic=atomic) if verified else [])
    return [failed[index] if index in failed else next(stored) for index in range(len(batch))]
