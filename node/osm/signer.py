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
from pathlib import Path
from typing import Any

from node.datadir import DataDir
from protocol.envelope import Envelope, record_id
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


def _sign_all(envelopes: list[bytes]) -> list[bytes]:
    assert _key is not None
    return [_key.sign(envelope) for envelope in envelopes]


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

    async def sign(self, public_key: bytes, envelopes: list[bytes]) -> list[bytes]:
        """The signatures of ``envelopes``; refuses a worker holding another key."""
        if await asyncio.wrap_future(self._loaded) != public_key:
            raise RuntimeError("the signing process loaded another key than this node's")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _sign_all, envelopes)

    def close(self) -> None:
        """Stop the worker (also when the import is interrupted)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class ImportPublisher:
    """``publish(audience, bodies)`` for :func:`node.osm.importer.import_cameras`: each
    batch validated and encoded here, signed by :class:`Signer` once ``start_after``
    records were published (:data:`START_AFTER`) and it is ready, stored in one
    transaction."""

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
        self._heads: dict[str, int] | None = None

    async def __call__(self, audience: str, bodies: list[dict[str, Any]]) -> list[VerifiedRecord]:
        contents = [validate_body(KIND, body) for body in bodies]
        encoded = [encode_body(content) for content in contents]
        for body in encoded:
            self._limits.check_body(len(body))
        if self._heads is None:
            self._heads = await self._store.feeds.heads(self._key.public_key)
        first = self._heads.get(audience, 0) + 1
        created_ms = self._store.clock()
        presigned: list[VerifiedRecord] = []
        if self._signer is None and self._published >= self._start_after:
            self._signer = Signer(self._data_dir)
        if self._signer is not None and self._signer.ready():
            presigned = await self._presign(audience, first, created_ms, contents, encoded)
        builds = [
            self._builder(audience, first + n, presigned, created_ms, content, body)
            for n, (content, body) in enumerate(zip(contents, encoded, strict=True))
        ]
        records = await self._store.records.append_many(self._key.public_key, audience, builds)
        if records:
            self._heads[audience] = records[-1].envelope.seq
        self._published += len(records)
        return records

    async def signer_started(self) -> bool:
        """Wait for the worker, if one was started; whether there is one."""
        if self._signer is None:
            return False
        await self._signer.started()
        return True

    async def _presign(
        self, audience: str, first: int, created_ms: int, contents: list[Any], encoded: list[bytes]
    ) -> list[VerifiedRecord]:
        envelopes = [
            Envelope(
                network_id=self._network_id,
                origin=self._key.public_key,
                audience=audience,
                seq=first + n,
                created_ms=created_ms,
                kind=KIND,
                body_sha256=hashlib.sha256(body).digest(),
                body_len=len(body),
            )
            for n, body in enumerate(encoded)
        ]
        raw = [envelope.encode() for envelope in envelopes]
        assert self._signer is not None
        signatures = await self._signer.sign(self._key.public_key, raw)
        return [
            VerifiedRecord(
                id=record_id(data),
                envelope=envelope,
                envelope_bytes=data,
                signature=signature,
                body=body,
                content=content,
            )
            for envelope, data, signature, body, content in zip(
                envelopes, raw, signatures, encoded, contents, strict=True
            )
        ]

    def _builder(
        self,
        audience: str,
        seq: int,
        presigned: list[VerifiedRecord],
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

    def close(self) -> None:
        if self._signer is not None:
            self._signer.close()
            self._signer = None
