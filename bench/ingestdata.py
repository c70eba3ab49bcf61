"""The signed records the ingest and replication benchmarks send: ``incident`` records of
about 1 KiB from 50 origins with fixed-seed keys (a few busy chapters and many quiet
ones, each with three feeds), signed on every core and interleaved in one sending order.

:class:`Generator` hands the records out in order, a stretch at a time, signing only
that stretch: a benchmark holds one stretch in memory whatever the number of records
(a million stored, or ten million), and the same seed gives the same records.
"""

import datetime
import hashlib
import os
import random
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, get_args

import msgpack

from protocol.kinds import IncidentCategory, TechnologyType
from protocol.records import SignedRecord, sign_record
from tests.factories import seeded_key

NETWORK = "banthescan"
ORIGINS = 50
AUDIENCE_WEIGHTS = {"public": 0.7, "network": 0.2, "coordinators": 0.1}
# Envelope, signature and framing take about 194 bytes, so a record is about 1 KiB on the wire.
BODY_BYTES = 830
CREATED_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z

# (country, region, city, geohash prefix of the city's 20 km cell)
PLACES = (
    ("US", "NY", "New York", "dr5r"),
    ("US", "CA", "Los Angeles", "9q5c"),
    ("GB", "ENG", "London", "gcpv"),
    ("DE", "BE", "Berlin", "u33d"),
    ("FR", "IDF", "Paris", "u09t"),
    ("IN", "DL", "Delhi", "ttng"),
    ("BR", "SP", "São Paulo", "6gyc"),
    ("AR", "C", "Buenos Aires", "69y7"),
    ("ZA", "GT", "Johannesburg", "ke7h"),
    ("AU", "NSW", "Sydney", "r3gx"),
    ("CA", "ON", "Toronto", "dpz8"),
    ("MX", "CMX", "Ciudad de México", "9g3w"),
    ("NL", "NH", "Amsterdam", "u173"),
    ("KE", "30", "Nairobi", "kzf0"),
    ("JP", "13", "Tokyo", "xn77"),
    ("RU", "MOW", "Moscow", "ucfv"),
    ("HK", "HK", "Hong Kong", "wecn"),
)
CATEGORIES = get_args(IncidentCategory)
TECHNOLOGIES = get_args(TechnologyType)
AGENCIES = ("City Police", "Metropolitan Police", "Transit Police", "Border Agency", "Sheriff")
TAGS = ("vans", "protest", "school", "stadium", "transit", "vendor", "foia", "court", "minor")
SENTENCES = (
    "Witnesses saw a camera van parked at the corner before the march began.",
    "Officers stopped several people after an alert from the live system.",
    "The person was released after their identity was confirmed by hand.",
    "A records request later confirmed that the agency used a vendor watch list.",
    "Local reporters documented the deployment and archived the footage.",
    "The chapter corroborated the account with two independent witnesses.",
    "No notice of the deployment was given to the public beforehand.",
    "Images from the event were searched against a mugshot database afterwards.",
)
GEOHASH = "0123456789bcdefghjkmnpqrstuvwxyz"


# Records signed per call to the pool: the sending order is drawn this many at a time, so
# the records a seed gives do not depend on how a benchmark asks for them.
SIGN_CHUNK = 10_000


@dataclass(frozen=True, slots=True)
class FeedJob:
    origin: int
    audience: str
    first_seq: int
    count: int
    seed: str


Wire = tuple[bytes, bytes, bytes]  # envelope, signature, body


def origin_label(origin: int) -> str:
    return f"banscan-bench-origin-{origin}"


def incident_body(rng: random.Random, origin: int, size: int) -> bytes:
    """A valid incident body of about ``size`` bytes: realistic fields, padded summary."""
    country, region, city, cell = PLACES[origin % len(PLACES)]
    day = datetime.date(2019, 1, 1) + datetime.timedelta(days=rng.randrange(2_400))
    precision = rng.choices(("day", "month", "year"), (0.8, 0.15, 0.05))[0]
    if precision == "month":
        day = day.replace(day=1)
    elif precision == "year":
        day = day.replace(month=1, day=1)
    body: dict[str, Any] = {
        "occurred_on": {"date": day.isoformat(), "precision": precision},
        "country": country,
        "region": region,
        "city": city,
        "area": cell + "".join(rng.choice(GEOHASH) for _ in range(2)),
        "category": rng.choice(CATEGORIES),
        "technology": {"type": rng.choice(TECHNOLOGIES)},
        "agency": {"name": rng.choice(AGENCIES)},
        "summary": "",
        "sources": [
            {
                "url": f"https://news.example.org/{origin}/{rng.getrandbits(40):x}",
                "sha256": hashlib.sha256(rng.randbytes(8)).hexdigest(),
            }
            for _ in range(rng.randrange(3))
        ],
        "verification": {
            "status": rng.choice(("unverified", "corroborated", "verified")),
            "confirmations": rng.randrange(5),
        },
        "tags": rng.sample(TAGS, rng.randrange(4)),
    }
    room = max(0, size - len(msgpack.packb(body, use_bin_type=True)) - 2)
    summary = ""
    while len(summary) < room:
        summary += rng.choice(SENTENCES) + " "
    body["summary"] = summary[:room].rstrip() or "Unreported."
    return msgpack.packb(body, use_bin_type=True)


def sign_feed(job: FeedJob) -> list[Wire]:
    """Seqs first_seq.. of one (origin, audience) feed. Runs in a worker process."""
    key = seeded_key(origin_label(job.origin))
    rng = random.Random(job.seed)
    records = []
    for seq in range(job.first_seq, job.first_seq + job.count):
        size = rng.randrange(BODY_BYTES - 150, BODY_BYTES + 150)
        record = sign_record(
            key,
            network_id=NETWORK,
            audience=job.audience,
            seq=seq,
            created_ms=CREATED_MS + seq * 60_000 + job.origin,
            kind="incident",
            body=incident_body(rng, job.origin, size),
        )
        assert record.body is not None
        records.append((record.envelope_bytes, record.signature, record.body))
    return records


@dataclass(frozen=True, slots=True)
class Corpus:
    records: list[SignedRecord]  # in sending order; each feed's seqs ascend
    origins: list[int]  # the origin index of each record
    feeds: int
    seconds: float
    workers: int

    @property
    def mean_bytes(self) -> float:
        return sum(
            len(r.envelope_bytes) + len(r.signature) + len(r.body or b"") + 8 for r in self.records
        ) / max(1, len(self.records))


class Generator:
    """The records of one seed in sending order, signed a stretch at a time on a process
    pool (open while the generator is used as a context manager).

    The sending order is drawn :data:`SIGN_CHUNK` records at a time from the seed's
    generator, and each feed's records of a chunk are signed by one job seeded by the
    seed, the feed and its first seq, so the records depend only on the seed."""

    def __init__(self, seed: int, workers: int | None = None) -> None:
        self.seed = seed
        self.workers = workers or os.cpu_count() or 1
        self.seconds = 0.0  # spent signing so far
        self.position = 0  # records handed out so far
        self._rng = random.Random(seed)
        self._feeds = [(o, a) for o in range(ORIGINS) for a in AUDIENCE_WEIGHTS]
        self._weights = [AUDIENCE_WEIGHTS[a] / (o + 1) ** 0.8 for o, a in self._feeds]
        self._next_seq = [1] * len(self._feeds)
        self._pending: list[tuple[SignedRecord, int]] = []
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "Generator":
        self._pool = ProcessPoolExecutor(self.workers)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    @property
    def feeds(self) -> int:
        """Feeds with at least one record handed out or signed so far."""
        return sum(seq > 1 for seq in self._next_seq)

    def take(self, count: int) -> "Corpus":
        """The next ``count`` records in sending order."""
        while len(self._pending) < count:
            self._pending.extend(self._sign_chunk())
        taken, self._pending = self._pending[:count], self._pending[count:]
        self.position += count
        return Corpus(
            [r for r, _ in taken], [o for _, o in taken], self.feeds, self.seconds, self.workers
        )

    def _sign_chunk(self) -> Iterator[tuple[SignedRecord, int]]:
        if self._pool is None:
            raise RuntimeError("use the generator in a with block")
        started = time.perf_counter()
        order = self._rng.choices(range(len(self._feeds)), self._weights, k=SIGN_CHUNK)
        counts = [0] * len(self._feeds)
        for index in order:
            counts[index] += 1
        jobs = {}
        for i, (origin, audience) in enumerate(self._feeds):
            if counts[i]:
                first = self._next_seq[i]
                jobs[i] = FeedJob(origin, audience, first, counts[i], f"{self.seed}:{i}:{first}")
                self._next_seq[i] += counts[i]
        signed = dict(zip(jobs, self._pool.map(sign_feed, jobs.values()), strict=True))
        self.seconds += time.perf_counter() - started
        cursors = dict.fromkeys(signed, 0)
        for index in order:
            envelope, signature, body = signed[index][cursors[index]]
            cursors[index] += 1
            yield SignedRecord(envelope, signature, body), self._feeds[index][0]


def generate(count: int, seed: int) -> Corpus:
    """``count`` records over 50 origins (a few busy chapters, many quiet ones), interleaved,
    all in memory: for runs small enough to hold (see :class:`Generator` for larger ones)."""
    with Generator(seed) as generator:
        return generator.take(count)


def streams(corpus: Corpus, clients: int) -> list[list[SignedRecord]]:
    """Split the records between clients by origin, so no feed's seqs race between clients."""
    per_origin: dict[int, int] = {}
    for origin in corpus.origins:
        per_origin[origin] = per_origin.get(origin, 0) + 1
    loads = [0] * clients
    owner: dict[int, int] = {}
    for origin, n in sorted(per_origin.items(), key=lambda item: -item[1]):
        client = loads.index(min(loads))
        owner[origin] = client
        loads[client] += n
    out: list[list[SignedRecord]] = [[] for _ in range(clients)]
    for record, origin in zip(corpus.records, corpus.origins, strict=True):
        out[owner[origin]].append(record)
    return out
