"""The replication benchmark's two nodes before either runs: the source (its own steward)
and the fresh node (whose steward is the source), their tokens, the source's admissions
of every origin and of the fresh node, posting records to the source, and the fresh
node's one peer entry; signing and posting the source's records, kept filled in a cache
when asked.
"""

import json
import shutil
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgpack

from bench.harness import create_token, init_node, stop_node
from bench.ingestdata import NETWORK, ORIGINS, Generator, origin_label
from node.datadir import DataDir
from protocol.keys import NodeKey, key_text
from protocol.records import SignedRecord, encode_batch, sign_record
from storage.migrations import MIGRATIONS
from tests.factories import seeded_key
from tests.nodeproc import NodeProcess

IMPORT_BATCH = 500


def memberships(steward: NodeKey, subjects: Sequence[tuple[bytes, str]]) -> list[SignedRecord]:
    """Admissions signed by ``steward``, seqs 1.. of its public feed."""
    now = time.time_ns() // 1_000_000
    return [
        sign_record(
            steward,
            network_id=NETWORK,
            audience="public",
            seq=seq,
            created_ms=now + seq,
            kind="membership",
            body=msgpack.packb(
                {
                    "subject": key_text(subject),
                    "action": "admit",
                    "role": role,
                    "name": f"bench member {seq}",
                },
                use_bin_type=True,
            ),
        )
        for seq, (subject, role) in enumerate(subjects, start=1)
    ]


def raw_bytes(records: Sequence[SignedRecord]) -> int:
    return sum(len(r.envelope_bytes) + len(r.signature) + len(r.body or b"") for r in records)


def post_batches(url: str, token: str, records: Sequence[SignedRecord]) -> None:
    for start in range(0, len(records), IMPORT_BATCH):
        part = records[start : start + IMPORT_BATCH]
        request = urllib.request.Request(
            url.rstrip("/") + "/api/v1/records/import",
            data=encode_batch(list(part)),
            headers={"Content-Type": "application/msgpack", "Authorization": f"Bearer {token}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            answer = json.loads(response.read())
        if answer.get("accepted") != len(part):
            raise RuntimeError(f"the source accepted {answer.get('accepted')} of {len(part)}")


def first_key(below: bytes) -> NodeKey:
    """A fixed-seed key that sorts before ``below``."""
    for attempt in range(1_000_000):
        key = seeded_key(f"banscan-bench-replication-source-{attempt}")
        if key.public_key < below:
            return key
    raise RuntimeError("no key sorts first")


def replace_key(data_dir: DataDir, key: NodeKey) -> NodeKey:
    """Give a node that has not run yet another key (as an operator restoring one would)."""
    with data_dir.key_file.open("wb") as handle:  # keeps the file's mode, 0600
        handle.write(key.to_pem())
    return key


@dataclass(frozen=True, slots=True)
class Pair:
    """The two initialised nodes, before either runs."""

    source_dir: Path
    fresh_dir: Path
    source_text: str  # the source's key, the fresh node's steward
    publisher: str  # a token on the source
    analyst: str  # a token on the fresh node
    steward: NodeKey  # the source's key
    origins: list[bytes]
    admissions: list[SignedRecord]  # the origins and the fresh node, signed by the source


def init_pair(tmp: Path, *, steward_first: bool) -> Pair:
    """``banscan init`` the source and the fresh node (whose steward is the source), tokens
    for both, and the source's admissions of every origin and of the fresh node."""
    source_dir, fresh_dir = tmp / "source", tmp / "fresh"
    source_text = init_node(source_dir, NETWORK)
    origins = [seeded_key(origin_label(o)).public_key for o in range(ORIGINS)]
    if steward_first:
        source_text = replace_key(DataDir(source_dir), first_key(min(origins))).text
    init_node(fresh_dir, NETWORK, source_text)
    publisher, analyst = create_token(source_dir, "publisher"), create_token(fresh_dir, "analyst")
    steward = DataDir(source_dir).load_key()
    fresh_key = DataDir(fresh_dir).load_key()
    admissions = memberships(
        steward,
        [(o, "chapter") for o in origins] + [(fresh_key.public_key, "coordinator")],
    )
    return Pair(
        source_dir, fresh_dir, source_text, publisher, analyst, steward, origins, admissions
    )


def add_peer(data_dir: Path, port: int, source_key: str) -> None:
    """The fresh node's only peer: the source, through the proxy on ``port``."""
    with (data_dir / "banscan.toml").open("a", encoding="utf-8") as config:
        config.write(f'\n[[peers]]\nurl = "http://127.0.0.1:{port}"\nkey = "{source_key}"\n')


def wait_indexed(url: str, timeout_s: float = 600) -> None:
    """Poll a node until its index holds every record it acknowledged."""
    deadline = time.perf_counter() + timeout_s
    while True:
        with urllib.request.urlopen(url.rstrip("/") + "/api/v1/node", timeout=30) as answer:
            index = json.loads(answer.read()).get("index", {})
        if not index.get("pending"):
            return
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the source's index did not catch up: {index}")
        time.sleep(0.01)


def saved_pair(pair: Pair) -> dict[str, str]:
    """What :func:`load_pair` needs besides the two data directories."""
    return {"source_text": pair.source_text, "publisher": pair.publisher, "analyst": pair.analyst}


def load_pair(tmp: Path, saved: dict[str, str]) -> Pair:
    """A pair :func:`init_pair` made, copied to ``tmp`` (its admissions already posted)."""
    source_dir, fresh_dir = tmp / "source", tmp / "fresh"
    origins = [seeded_key(origin_label(o)).public_key for o in range(ORIGINS)]
    steward = DataDir(source_dir).load_key()
    return Pair(
        source_dir,
        fresh_dir,
        saved["source_text"],
        saved["publisher"],
        saved["analyst"],
        steward,
        origins,
        [],
    )


# Records signed and posted to the source at a time: the benchmark holds one chunk,
# whatever --records is (a fresh node pulling 1,000,000 records is issue 16's point).
FILL_CHUNK = 20_000


def fill_source(url: str, token: str, generator: Generator, count: int) -> int:
    """Sign ``count`` records a chunk at a time and post them to the source; their raw
    bytes."""
    size = 0
    while (done := generator.position) < count:
        records = generator.take(min(FILL_CHUNK, count - done)).records
        post_batches(url, token, records)
        size += raw_bytes(records)
        if count > FILL_CHUNK and generator.position % 100_000 < FILL_CHUNK:
            print(f"  the source holds {generator.position:,} records", flush=True)
    return size


def filled_pair(
    tmp: Path, generator: Generator, count: int, *, steward_first: bool, cache: Path | None
) -> tuple[Pair, int]:
    """The pair in ``tmp`` with ``count`` records on the source (stopped); their raw bytes.

    With ``cache``, a filled pair is kept there (keyed by the parameters and the schema's
    migrations) and copied for each run: filling a million took 17-30 minutes."""
    entry = None
    if cache is not None:
        key = f"repl-r{count}-s{generator.seed}-f{int(steward_first)}-m{len(MIGRATIONS)}"
        entry = cache / key
        if (entry / "pair.json").exists():
            shutil.copytree(entry, tmp, dirs_exist_ok=True)
            saved = json.loads((entry / "pair.json").read_text())
            print(f"the source's {count:,} records from {entry}", flush=True)
            return load_pair(tmp, saved["pair"]), int(saved["raw_bytes"])
    pair = init_pair(tmp, steward_first=steward_first)
    source = NodeProcess(pair.source_dir)
    try:
        source_url = source.wait_serving()
        post_batches(source_url, pair.publisher, pair.admissions)
        size = fill_source(source_url, pair.publisher, generator, count)
        wait_indexed(source_url)  # the source's indexer idle before it is kept or pulled from
    finally:
        stop_node(source, timeout=60)
    if entry is not None:
        building = entry.with_name(entry.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        shutil.copytree(tmp, building)
        (building / "pair.json").write_text(
            json.dumps({"pair": saved_pair(pair), "raw_bytes": size})
        )
        building.rename(entry)
    return pair, size
