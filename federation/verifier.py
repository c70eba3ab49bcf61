"""Checking records on a thread pool, before storage stores them.

Signature checks dominate the cost of ingest. libsodium releases the GIL
while it verifies, so the signatures of a batch are checked in chunks on a
small thread pool. The other checks (sizes, canonical envelope, body hash,
schema) are Python that holds the GIL; they run on the calling thread, because
running them on the pool threads too makes the threads pass the GIL back and
forth and is slower than one thread (``bench/ingest.py``, ``bench/README.md``).

:class:`Verifier` is a ``storage.ingest.Checker``: storage takes whatever
checks records, and does not depend on this pool.
"""

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from protocol.envelope import Envelope
from protocol.errors import ProtocolError
from protocol.keys import verify_signature
from protocol.limits import Limits
from protocol.records import (
    SignedRecord,
    VerifiedRecord,
    finish_record,
    invalid_signature,
    precheck_record,
)


class Verifier:
    """Checks batches of records on a thread pool; owns the pool and shuts it down."""

    def __init__(self, network_id: str, limits: Limits, threads: int = 0) -> None:
        self.network_id = network_id
        self.limits = limits
        self.threads = threads or min(4, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="banscan-verify")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    async def check_all(
        self, records: Sequence[SignedRecord]
    ) -> list[VerifiedRecord | ProtocolError]:
        """Python checks on the calling thread; only signatures go to the pool.

        libsodium releases the GIL, so the pool threads verify in parallel
        as long as they run little Python; mixing the schema checks into the
        pool threads makes them fight over the GIL and is slower than one thread.
        """
        checked: list[Envelope | VerifiedRecord | ProtocolError] = []
        for record in records:
            try:
                checked.append(
                    precheck_record(record, network_id=self.network_id, limits=self.limits)
                )
            except ProtocolError as exc:
                checked.append(exc)
        todo = [
            (env.origin, record.envelope_bytes, record.signature)
            for record, env in zip(records, checked, strict=True)
            if isinstance(env, Envelope)
        ]
        good = iter(await self._signatures(todo))
        for index, (record, env) in enumerate(zip(records, checked, strict=True)):
            if not isinstance(env, Envelope):
                continue
            if not next(good):
                checked[index] = invalid_signature()
                continue
            try:
                checked[index] = finish_record(record, env)
            except ProtocolError as exc:
                checked[index] = exc
        return [c for c in checked if not isinstance(c, Envelope)]

    async def _signatures(self, todo: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
        if len(todo) < 2 * self.threads:
            return _verify_signatures(todo)
        loop = asyncio.get_running_loop()
        size = -(-len(todo) // self.threads)
        done = await asyncio.gather(
            *(
                loop.run_in_executor(self._pool, _verify_signatures, todo[i : i + size])
                for i in range(0, len(todo), size)
            )
        )
        return [ok for part in done for ok in part]


def _verify_signatures(todo: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    return [verify_signature(origin, message, sig) for origin, message, sig in todo]
