"""Publishing an import's deployments with the ed25519 signing in a second process.

``banscan import-osm`` spends about half of its CPU time in one Python process
on two threads that share the GIL: reading and validating the extract, and
signing and storing the records. Signing (an ed25519 signature per record) is
the one part that needs nothing of the store, so :class:`Signer` does it in a
worker process, on the second core, while this process validates the next
batch and stores the last one.

The worker loads the node key from the data directory itself, as the CLI does
(:meth:`node.datadir.DataDir.load_key`): the private key never crosses the
pipe, only envelope bytes one way and signatures the other. Its public key is
checked against the node's before it signs anything.

A record's envelope holds its seq, which the store gives out in the storing
transaction (:meth:`storage.records.RecordStore.append_many`). The envelopes are
signed in advance for the seqs that follow the feed's head as this import last
saw it; when another writer (the running node publishing to the same feed) took
those seqs meanwhile, the transaction signs that batch again in this process,
at the seqs it really gets, as :func:`node.publishing.publish_many` does. Either
way every record is validated against the deployment schema, its size checked
and its signature made with the node key before it is stored, one transaction
per batch.
"""

import asyncio
import hashlib
import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.datadir import DataDir
from protocol.envelope import Envelope, record_id
from protocol.errors import ProtocolError
from protocol.keys import NodeKey
from protocol.kinds import encode_body, validate_body
from protocol.limits import Limits
from protocol.records import VerifiedRecord, seal_record
from storage.store import Store

KIND = "deployment"
# The worker starts once an import has published this many records: starting it costs
# about half a CPU second, more than a small import's signing. Until it has loaded the
# key, batches are signed here, so the import never waits for it.
START_AFTER = 5_000

_key: NodeKey | None = None  # the worker's node key


def _load_key(data_dir: str) -> None:
    """In the worker: ignore Ctrl-C (this process stops the worker) and load the key."""
    global _key
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _key = DataDir(Path(data_dir)).load_key()


def _public_key() -> bytes:
    assert _key is not None
    return _key.public_key


def _seal_all(job: "SealJob") -> list[VerifiedRecord] | None:
    """In the worker: validate, encode and sign a batch for seqs ``job.first``..; None
    when a body is invalid or too big (this process validates that batch again, and
    raises the error that says why)."""
    assert _key is not None
    try:
        contents = [validate_body(KIND, body) for body in job.bodies]
    except ProtocolError:
        return None
    sealed = []
    for n, content in enumerate(contents):
        body = encode_body(content)
        if len(body) > job.max_body_bytes:
            return None
        envelope = Envelope(
            network_id=job.network_id,
            origin=_key.public_key,
            audience=job.audience,
            seq=job.first + n,
            created_ms=job.created_ms,
            kind=KIND,
            body_sha256=hashlib.sha256(body).digest(),
            body_len=len(body),
        )
        data = envelope.encode()
        sealed.append(
            VerifiedRecord(record_id(data), envelope, data, _key.sign(data), body, content)
        )
    return sealed


class Signer:
    """A worker process that signs envelopes with the key of the node in ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        # spawn, not fork: this process runs the store's writer thread.
        self._pool = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load_key,
            initargs=(str(data_dir),),
        )
        self._loaded = self._pool.submit(_public_key)  # starts the worker

    def ready(self) -> bool:
        """Whether the worker has started and loaded its key."""
        return self._loaded.done()

    async def started(self) -> None:
        await asyncio.wrap_future(self._loaded)

    async def seal(self, public_key: bytes, job: "SealJob") -> list[VerifiedRecord] | None:
        """The batch of ``job`` validated and signed (None: a body is invalid); refuses
        a worker holding another key than ``public_key``."""
        if await asyncio.wrap_future(self._loaded) != public_key:
            raise RuntimeError("the signing process loaded another key than this node's")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _seal_all, job)

    def close(self) -> None:
        """Stop the worker (also when the import is interrupted)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class ImportPublisher:
    """``publish(audience, bodies)`` for :func:`node.osm.importer.import_cameras`: each
    batch validated and encoded here, signed by :class:`Signer` once ``start_after``
    records were published (:data:`START_AFTER`) and it is ready, stored in one
    transaction, after the batch before it.

    A call returns once the batch before it is stored, with the task storing its own:
    the signing process signs one batch while the writer's thread stores the one before
    and this thread reads the next. :meth:`drain` waits for the last one."""

    def __init__(
        self,
        store: Store,
        key: NodeKey,
        data_dir: Path,
        *,
        network_id: str,
        limits: Limits,
        start_after: int | None = None,
    ) -> None:
        self._store, self._key, self._data_dir = store, key, data_dir
        self._network_id, self._limits = network_id, limits
        self._start_after = START_AFTER if start_after is None else start_after
        self._published = 0
        self._signer: Signer | None = None
        # Per audience: the seq the next batch will be signed for, and how many records
        # are signed for seqs before it but not stored yet.
        self._next: dict[str, int] | None = None
        self._queued: dict[str, int] = {}
        self._storing: asyncio.Task[list[VerifiedRecord]] | None = None

    async def __call__(
        self, audience: str, bodies: list[dict[str, Any]]
    ) -> asyncio.Task[list[VerifiedRecord]]:
        if self._next is None:
            heads = await self._store.feeds.heads(self._key.public_key)
            self._next = {name: seq + 1 for name, seq in heads.items()}
        first = self._next.get(audience, 1)
        created_ms = self._store.clock()
        if self._signer is None and self._published >= self._start_after:
            self._signer = Signer(self._data_dir)
        sealing = None
        if self._signer is not None and self._signer.ready():
            job = SealJob(
                self._network_id, audience, first, created_ms, bodies, self._limits.max_body_bytes
            )
            sealing = asyncio.ensure_future(self._signer.seal(self._key.public_key, job))
        self._next[audience] = first + len(bodies)
        self._queued[audience] = self._queued.get(audience, 0) + len(bodies)
        previous = self._storing
        batch = _Batch(audience, first, created_ms, bodies, sealing)
        self._storing = asyncio.ensure_future(self._stored(previous, batch))
        if previous is not None:
            await previous
        return self._storing

    async def drain(self) -> None:
        """Wait until every batch is stored (raising what storing one raised)."""
        if self._storing is not None:
            await self._storing

    async def signer_started(self) -> bool:
        """Wait for the worker, if one was started; whether there is one."""
        if self._signer is None:
            return False
        await self._signer.started()
        return True

    async def _stored(
        self, previous: "asyncio.Task[list[VerifiedRecord]] | None", batch: "_Batch"
    ) -> list[VerifiedRecord]:
        if previous is not None:
            await previous
        sealed = await batch.sealing if batch.sealing is not None else None
        if sealed is None:  # validated here: an invalid body raises what is wrong with it
            contents = [validate_body(KIND, body) for body in batch.bodies]
            encoded = [encode_body(content) for content in contents]
            for body in encoded:
                self._limits.check_body(len(body))
        else:  # the worker's records, validated there (their fields are set)
            contents = [record.content for record in sealed if record.content is not None]
            encoded = [record.body for record in sealed if record.body is not None]
        builds = [
            self._builder(batch.audience, batch.first + n, sealed, batch.created_ms, content, body)
            for n, (content, body) in enumerate(zip(contents, encoded, strict=True))
        ]
        origin = self._key.public_key
        records = await self._store.records.append_many(origin, batch.audience, builds)
        assert self._next is not None
        self._queued[batch.audience] -= len(batch.bodies)
        if records:  # where the next batches go, had another writer taken seqs
            self._next[batch.audience] = records[-1].envelope.seq + 1 + self._queued[batch.audience]
        self._published += len(records)
        return records

    def _builder(
        self,
        audience: str,
        seq: int,
        presigned: list[VerifiedRecord] | None,
        created_ms: int,
        content: Any,
        body: bytes,
    ) -> Callable[[int], VerifiedRecord]:
        def build(given: int) -> VerifiedRecord:
            if given == seq and presigned:
                return presigned[seq - presigned[0].envelope.seq]
            # Another writer took these seqs meanwhile: sign again, here, at the right one.
            return seal_record(
                self._key,
                network_id=self._network_id,
                audience=audience,
                seq=given,
                created_ms=created_ms,
                kind=KIND,
                content=content,
                body=body,
            )

        return build

    async def close(self) -> None:
        """Stop: a batch not stored yet is not stored (an interrupted import), and the
        signing process ends."""
        if self._storing is not None and not self._storing.done():
            self._storing.cancel()
            await asyncio.wait([self._storing])
        if self._signer is not None:
            self._signer.close()
            self._signer = None


@dataclass(frozen=True, slots=True)
class SealJob:
    """What the signing process seals: a batch's bodies, for seqs ``first``.."""

    network_id: str
    audience: str
    first: int
    created_ms: int
    bodies: list[dict[str, Any]]
    max_body_bytes: int


@dataclass(frozen=True, slots=True)
class _Batch:
    """A batch to store: validated and signed for seqs ``first``.. by the signing
    process (``sealing``), or to be validated here and signed in the storing
    transaction."""

    audience: str
    first: int
    created_ms: int
    bodies: list[dict[str, Any]]
    sealing: "asyncio.Future[list[VerifiedRecord] | None] | None"
