"""Quarantined records on the wire: what repeated sessions with a peer fetch again.

Run from the repository root::

    python -m bench.quarantined                  # 1,000 records, 5 sessions
    python -m bench.quarantined --records 200

``bench/replication.py --quarantined`` runs the same and prints it beside its
own figures.

Two real stores with the real sync service and client, the network in memory
(:class:`~federation.sync.LocalTransport`). The **source** counts two
stewards, itself and a second key; the second key's ``membership`` record
admits an origin whose ``public`` records the source holds. The **fresh**
node counts only the source as a steward, so that origin is not admitted
there: each record it receives waits in its quarantine (docs/protocol.md
section 7.1). The fresh node runs sessions with the source, as its gossip
would every ``sync_interval_s``, and the benchmark counts the request and
answer bodies of each session.

It reports and does not assert: the exit status is 0 even when a target is
missed, 1 only when the benchmark itself could not run, 2 for bad arguments.
"""

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from federation.service import SyncService
from federation.sync import LocalTransport, PeerRef, SyncClient
from federation.verifier import Verifier
from protocol.limits import DEFAULT_LIMITS
from protocol.records import verify_record
from storage.store import Store
from tests.factories import NETWORK, incident_body, seeded_key, signed

SOURCE = seeded_key("bench quarantined: source steward")
SECOND = seeded_key("bench quarantined: a steward the fresh node does not know")
ORIGIN = seeded_key("bench quarantined: an origin only the second steward admitted")
FRESH = seeded_key("bench quarantined: the fresh node")

# Measured with this benchmark before quarantined records were skipped
# (1,000 records, 5 sessions): each session fetched every quarantined record again.
BEFORE_BYTES = 4_150_495
BEFORE_RECORDS = 5_005


@dataclass(frozen=True)
class Run:
    records: int
    sessions: int
    bytes_by_session: list[int]
    pulled_by_session: list[int]
    quarantined: int

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes_by_session)


async def run(records: int, sessions: int, directory: Path) -> Run:
    verifier = Verifier(NETWORK, DEFAULT_LIMITS, threads=1)
    source = await Store.open(
        directory / "source.db",
        synchronous="normal",
        stewards=frozenset({SOURCE.public_key, SECOND.public_key}),
    )
    fresh = await Store.open(
        directory / "fresh.db", synchronous="normal", stewards=frozenset({SOURCE.public_key})
    )
    try:
        admit = {"subject": ORIGIN.text, "action": "admit", "role": "chapter", "name": "origin"}
        batch = [signed(SECOND, 1, body=admit, kind="membership")]
        batch += [
            signed(ORIGIN, seq, body=incident_body(summary=f"record {seq} " + "x" * 400))
            for seq in range(1, records + 1)
        ]
        verified = [verify_record(r, network_id=NETWORK, limits=DEFAULT_LIMITS) for r in batch]
        for start in range(0, len(verified), 500):
            await source.records.ingest(verified[start : start + 500])
        services = {
            SOURCE.public_key: SyncService(source, verifier, SOURCE.public_key),
            FRESH.public_key: SyncService(fresh, verifier, FRESH.public_key),
        }
        client = SyncClient(services[FRESH.public_key], LocalTransport(FRESH.public_key, services))
        peer = PeerRef(SOURCE.public_key, "memory://source")
        sent, pulled = [], []
        for _ in range(sessions):
            report = await client.session(peer)
            sent.append(report.bytes_sent + report.bytes_received)
            pulled.append(report.pulled)
        held, _ = await fresh.records.quarantine_totals()
        return Run(records, sessions, sent, pulled, held)
    finally:
        verifier.close()
        await source.close()
        await fresh.close()


def report(result: Run) -> list[str]:
    lines = [
        f"quarantined records: {result.records} of an origin the fresh node has not admitted "
        f"(held in its quarantine: {result.quarantined}), {result.sessions} sessions",
        "session  body bytes  records pulled",
    ]
    for index, (size, pulled) in enumerate(
        zip(result.bytes_by_session, result.pulled_by_session, strict=True), start=1
    ):
        lines.append(f"{index:>7}  {size:>10,}  {pulled:>14,}")
    total_pulled = sum(result.pulled_by_session)
    lines.append(
        f"total: {result.total_bytes:,} body bytes, {total_pulled:,} records pulled "
        f"(before quarantined records were skipped, 1,000 records and 5 sessions: "
        f"{BEFORE_BYTES:,} bytes, {BEFORE_RECORDS:,} records)"
    )
    if (result.records, result.sessions) == (1_000, 5):
        lines.append(f"saved: {BEFORE_BYTES - result.total_bytes:,} bytes")
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quarantined",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--records", type=int, default=1_000, help="quarantined records")
    parser.add_argument("--sessions", type=int, default=5, help="sessions with the source")
    args = parser.parse_args(argv)
    if args.records < 1 or args.sessions < 1:
        parser.error("--records and --sessions must be at least 1")
    return args


def measure(records: int, sessions: int) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="banscan-quarantined-") as directory:
        return report(asyncio.run(run(records, sessions, Path(directory))))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        lines = measure(args.records, args.sessions)
    except Exception as exc:  # report, not a traceback: the benchmark could not run
        print(f"the benchmark could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
