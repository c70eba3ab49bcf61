"""Signed-record bundles on disk: export from a store, import into one, verify offline."""

import sys
import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

from federation.verifier import Verifier
from node.exports.formats import bundle_chunks
from protocol.bundle import BadEntry, BundleReader
from protocol.errors import ProtocolError
from protocol.limits import Limits
from protocol.records import SignedRecord, verify_record
from storage.classify import Outcome
from storage.ingest import ingest_batch
from storage.store import Store, wall_clock_ms
from storage.stored import RecordFilter, StoredRecord

CHUNK = 1 << 16


class Progress:
    """A one-line progress counter on a terminal; silent otherwise."""

    def __init__(self, label: str, total_bytes: int | None, out: TextIO = sys.stderr) -> None:
        self._label = label
        self._total = total_bytes
        self._out = out
        self._live = out.isatty()
        self._last = 0.0

    def update(self, count: int, done_bytes: int | None = None, *, final: bool = False) -> None:
        now = time.monotonic()
        if not self._live or (not final and now - self._last < 0.25):
            return
        self._last = now
        share = ""
        if self._total and done_bytes is not None:
            share = f" ({100 * done_bytes // self._total}%)"
        end = "\n" if final else ""
        self._out.write(f"\r{self._label}: {count:,} records{share}{end}")
        self._out.flush()


async def write_export(
    records: AsyncIterable[StoredRecord],
    encode: Callable[[AsyncIterable[StoredRecord]], AsyncIterator[bytes]],
    out: BinaryIO,
) -> Counter[str]:
    """Write ``encode(records)`` to ``out`` with progress; how many of each audience it held."""
    progress = Progress("exported", None)
    audiences: Counter[str] = Counter()

    async def counted() -> AsyncIterator[StoredRecord]:
        async for record in records:
            audiences[record.envelope.audience] += 1
            progress.update(audiences.total())
            yield record

    async for chunk in encode(counted()):
        out.write(chunk)
    progress.update(audiences.total(), final=True)
    return audiences


async def export_bundle(
    store: Store, network_id: str, out: BinaryIO, where: RecordFilter
) -> Counter[str]:
    """Write a bundle of the matching records, whole feeds as stored (not only current ones)."""
    created_ms = wall_clock_ms()
    return await write_export(
        store.records.iterate(where),
        lambda records: bundle_chunks(records, network_id, created_ms),
        out,
    )


@dataclass
class BundleReport:
    """What reading or importing a bundle found; ``bad`` holds (id or position, reason)."""

    network_id: str | None = None
    checked: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    bad: list[tuple[str, str]] = field(default_factory=list)
    fatal: str | None = None

    @property
    def ok(self) -> bool:
        return not self.bad and self.fatal is None


def read_bundle(path: Path, limits: Limits, report: BundleReport) -> Iterator[SignedRecord]:
    """Records of the bundle at ``path``; structural damage lands in ``report``."""
    reader = BundleReader(limits)
    size = path.stat().st_size
    progress = Progress("read", size)
    done = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                done += len(chunk)
                for item in reader.feed(chunk):
                    if report.network_id is None and reader.header is not None:
                        report.network_id = reader.header.network_id
                    if isinstance(item, BadEntry):
                        report.bad.append(
                            (f"#{item.index}", f"{item.error.code}: {item.error.detail}")
                        )
                        continue
                    yield item
                    progress.update(reader.count, done)
        reader.finish()
    except ProtocolError as exc:
        report.fatal = exc.detail
    if reader.header is not None:
        report.network_id = reader.header.network_id
    progress.update(reader.count, done, final=True)


def verify_bundle(path: Path, limits: Limits, network_id: str | None) -> BundleReport:
    """Check every record of a bundle offline: form, body hash, signature and schema."""
    report = BundleReport()
    for record in read_bundle(path, limits, report):
        assert report.network_id is not None
        if network_id is not None and report.network_id != network_id:
            report.fatal = f"the bundle is for network {report.network_id!r}, not {network_id!r}"
            break
        report.checked += 1
        try:
            verify_record(record, network_id=report.network_id, limits=limits)
        except ProtocolError as exc:
            report.bad.append((record.id.hex(), f"{exc.code}: {exc.detail}"))
    return report


async def import_bundle(store: Store, verifier: Verifier, path: Path) -> BundleReport:
    """Verify and store a bundle, batch by batch; bad records are reported and skipped."""
    report = BundleReport()
    batch: list[SignedRecord] = []

    async def flush() -> None:
        results = await ingest_batch(verifier, store.records, batch, atomic=False)
        for result in results:
            report.outcomes[result.outcome.value] = report.outcomes.get(result.outcome.value, 0) + 1
            if result.outcome is Outcome.REJECTED:
                report.bad.append((result.id.hex(), f"{result.code}: {result.detail}"))
        report.checked += len(batch)
        batch.clear()

    for record in read_bundle(path, verifier.limits, report):
        batch.append(record)
        if len(batch) >= verifier.limits.max_batch_records:
            await flush()
    if batch:
        await flush()
    return report
