"""The signed records the ingest and replication benchmarks send: ``incident`` records of
about 1 KiB from 50 origins with fixed-seed keys (a few busy chapters and many quiet
ones, each with three feeds), signed on every core and interleaved in one sending order.
"""

import datetime
import hashlib
import os
import random
import time
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


@dataclass(frozen=True, slots=True)
class FeedJob:
    origin: int
    audience: str
    count: int
    seed: int


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
    """Seqs 1..count of one (origin, audience) feed. Runs in a worker process."""
    key = seeded_key(origin_label(job.origin))
    rng = random.Random(job.seed)
    records = []
    for seq in range(1, job.count + 1):
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


def generate(count: int, seed: int) -> Corpus:
    """``count`` records over 50 origins (a few busy chapters, many quiet ones), interleaved."""
    started = time.perf_counter()
    rng = random.Random(seed)
    feeds = [(o, a) for o in range(ORIGINS) for a in AUDIENCE_WEIGHTS]
    weights = [AUDIENCE_WEIGHTS[a] / (o + 1) ** 0.8 for o, a in feeds]
    order = rng.choices(range(len(feeds)), weights, k=count)
    counts = [0] * len(feeds)
    for index in order:
        counts[index] += 1
    jobs = [
        FeedJob(origin, audience, counts[i], seed * 1_000 + i)
        for i, (origin, audience) in enumerate(feeds)
        if counts[i]
    ]
    workers = os.cpu_count() or 1
    with ProcessPoolExecutor(workers) as pool:
        signed = dict(
            zip(((j.origin, j.audience) for j in jobs), pool.map(sign_feed, jobs), strict=True)
        )
    cursors = dict.fromkeys(signed, 0)
    records, origins = [], []
    for index in order:
        feed = feeds[index]
        envelope, signature, body = signed[feed][cursors[feed]]
        cursors[feed] += 1
        records.append(SignedRecord(envelope, signature, body))
        origins.append(feed[0])
    return Corpus(records, origins, len(jobs), time.perf_counter() - started, workers)


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
