"""Generating the query benchmark's records: bodies with realistic distributions, signed
on a process pool a chunk of one feed at a time, written as a signed-record bundle and
cached by record count, seed and generator version (``DATASET_VERSION``).
"""

import datetime
import hashlib
import itertools
import json
import math
import random
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from bench.querydata import (
    AFTER,
    CATEGORIES,
    CATEGORY_WEIGHTS,
    COUNTRY_CODES,
    COUNTRY_WEIGHTS,
    DEPLOYMENT_STATUS,
    DEPLOYMENT_STATUS_WEIGHTS,
    FTS_WORD,
    PLACES,
    RETRACTION_REASONS,
    RETRACTION_WEIGHTS,
    TAGS,
    TECHNOLOGIES,
    TECHNOLOGY_WEIGHTS,
    VERIFICATION,
    VERIFICATION_WEIGHTS,
    WHAT,
    WHERE,
    WHO,
    WORDS,
    Place,
    geohash,
    origin_home,
    origin_label,
    zipf_weights,
)
from protocol.bundle import encode_header, encode_trailer
from protocol.envelope import record_id
from protocol.records import sign_record
from tests.factories import seeded_key

NETWORK = "banthescan"
DATASET_VERSION = 1  # bump when the generator changes, so stale caches are not reused
ORIGINS = 80
CHUNK = 10_000  # records per signing job (one feed's consecutive seqs)
AUDIENCE_WEIGHTS = {"public": 0.7, "network": 0.2, "coordinators": 0.1}
FIRST_DAY = datetime.date(2018, 1, 1)
LAST_DAY = datetime.date(2026, 11, 20)
NOW_MS = 1_795_651_200_000  # 2026-11-26T00:00:00Z: no record is created after it
DOUBLING_DAYS = 730  # reports double every two years
DAY_MS = 86_400_000
SHARE_DEPLOYMENT = 0.10
SHARE_VERSION = 0.02  # a new version superseding an earlier record of the same feed
SHARE_RETRACTION = 0.01
HOME_SHARE = 0.85  # a chapter's records in its own country


@dataclass(frozen=True, slots=True)
class SignJob:
    origin: int
    audience: str
    first_seq: int
    created_ms: list[int]  # one per record, ascending
    days: list[int]  # occurred_on as days since FIRST_DAY, one per record
    seed: int


Wire = tuple[bytes, bytes, bytes]  # envelope, signature, body


def partial_date(rng: random.Random, day: datetime.date) -> dict[str, str]:
    precision = rng.choices(("day", "month", "year"), (0.82, 0.14, 0.04))[0]
    if precision == "month":
        day = day.replace(day=1)
    elif precision == "year":
        day = day.replace(month=1, day=1)
    return {"date": day.isoformat(), "precision": precision}


def summary(rng: random.Random) -> str:
    """200-400 characters from a varied vocabulary, no newlines."""
    length = rng.randrange(200, 401)
    text = (
        f"{rng.choice(WHO).capitalize()} {rng.choice(WHAT)} {rng.choice(WHERE)}. "
        f"{rng.choice(AFTER)}"
    )
    while len(text) < length:
        if rng.random() < 0.5:
            text += " " + rng.choice(AFTER)
        else:
            words = rng.choices(WORDS, zipf_weights(len(WORDS), 0.6), k=rng.randrange(3, 7))
            text += f" Notes mention {', '.join(words[:-1])} and {words[-1]}."
    text = text[:length].rsplit(" ", 1)[0].rstrip(",")
    if rng.random() < 0.01:
        text += f" The city has debated a {FTS_WORD} since then."
    return text


def pick_place(rng: random.Random, origin: int) -> Place:
    country = origin_home(origin)
    if rng.random() >= HOME_SHARE:
        country = rng.choices(COUNTRY_CODES, COUNTRY_WEIGHTS)[0]
    cities, weights = PLACES[country]
    return rng.choices(cities, weights)[0]


def agency(rng: random.Random, place: Place) -> str:
    return rng.choices(place.agencies, zipf_weights(len(place.agencies), 1.3))[0]


def sources(rng: random.Random, origin: int) -> list[dict[str, str]]:
    return [
        {
            "url": f"https://news.example.org/{origin}/{rng.getrandbits(40):x}",
            "sha256": hashlib.sha256(rng.randbytes(8)).hexdigest(),
        }
        for _ in range(rng.choices((0, 1, 2, 3), (0.3, 0.45, 0.2, 0.05))[0])
    ]


def incident_body(rng: random.Random, origin: int, day: datetime.date) -> dict[str, Any]:
    place = pick_place(rng, origin)
    area = geohash(place.lat + rng.gauss(0, 0.04), place.lon + rng.gauss(0, 0.04), 6)
    category_weights = [CATEGORY_WEIGHTS.get(c, 2) for c in CATEGORIES]
    technology_weights = [TECHNOLOGY_WEIGHTS.get(t, 2) for t in TECHNOLOGIES]
    return {
        "occurred_on": partial_date(rng, day),
        "country": place.country,
        "region": place.region,
        "city": place.city,
        "area": area[: rng.choices((4, 5, 6), (0.2, 0.3, 0.5))[0]],
        "category": rng.choices(CATEGORIES, category_weights)[0],
        "technology": {"type": rng.choices(TECHNOLOGIES, technology_weights)[0]},
        "agency": {"name": agency(rng, place)},
        "summary": summary(rng),
        "sources": sources(rng, origin),
        "verification": {
            "status": rng.choices(VERIFICATION, VERIFICATION_WEIGHTS)[0],
            "confirmations": rng.randrange(5),
        },
        "tags": rng.sample(TAGS, rng.choices((0, 1, 2, 3), (0.4, 0.3, 0.2, 0.1))[0]),
    }


def deployment_body(rng: random.Random, origin: int, day: datetime.date) -> dict[str, Any]:
    place = pick_place(rng, origin)
    return {
        "lat_e7": round((place.lat + rng.gauss(0, 0.05)) * 1e7),
        "lon_e7": round((place.lon + rng.gauss(0, 0.05)) * 1e7),
        "country": place.country,
        "city": place.city,
        "osm": {
            "man_made": "surveillance",
            "surveillance:type": "camera",
            "surveillance": rng.choice(("public", "outdoor", "indoor")),
            "operator": agency(rng, place),
        },
        "frt_capability": {
            "status": rng.choices(("confirmed", "suspected", "unknown"), (15, 45, 40))[0],
            "basis": rng.sample(
                ["procurement_record", "records_request", "vendor_document", "visual"],
                rng.randrange(3),
            ),
        },
        "observed_on": partial_date(rng, day),
        "observers": rng.randrange(1, 20),
        "status": rng.choices(DEPLOYMENT_STATUS, DEPLOYMENT_STATUS_WEIGHTS)[0],
        "sources": sources(rng, origin),
    }


def new_version(rng: random.Random, previous: dict[str, Any], previous_id: bytes) -> dict[str, Any]:
    """A later version of a record: same facts, more sources or a changed status."""
    body = dict(previous, supersedes=previous_id.hex())
    if "verification" in body:
        status = body["verification"]["status"]
        better = {"unverified": "corroborated", "corroborated": "verified"}.get(status, status)
        body["verification"] = {"status": better, "confirmations": rng.randrange(1, 8)}
    else:
        body["status"] = rng.choice(("corroborated", "confirmed", "removed"))
    return body


@dataclass(slots=True)
class History:
    """What one chunk has signed so far, so that versions and retractions can name it."""

    rng: random.Random
    signed: list[tuple[bytes, dict[str, Any]]] = field(default_factory=list)  # id and body
    hidden: set[int] = field(default_factory=set)  # indexes of superseded and retracted records
    versions: list[int] = field(default_factory=list)  # indexes of new versions

    def recent(self) -> int | None:
        """A recent record that is still current, if a few draws find one."""
        for _ in range(5):
            index = self.rng.randrange(max(0, len(self.signed) - 2_000), len(self.signed))
            if index not in self.hidden:
                return index
        return None

    def next_body(self, origin: int, day: datetime.date) -> tuple[str, dict[str, Any], bool]:
        """The next record's kind and body, and whether it is a new version."""
        rng = self.rng
        draw = rng.random()
        target = self.recent() if self.signed and draw < SHARE_RETRACTION + SHARE_VERSION else None
        if target is not None and draw < SHARE_RETRACTION:
            reason = rng.choices(RETRACTION_REASONS, RETRACTION_WEIGHTS)[0]
            self.hidden.add(target)
            return "retraction", {"target": self.signed[target][0].hex(), "reason": reason}, False
        if target is not None:
            # A third of new versions revise a record that is already a new version: chains.
            live = [i for i in self.versions[-50:] if i not in self.hidden]
            if live and rng.random() < 0.33:
                target = rng.choice(live)
            body = new_version(rng, self.signed[target][1], self.signed[target][0])
            self.hidden.add(target)
            return ("deployment" if "lat_e7" in body else "incident"), body, True
        if draw < SHARE_RETRACTION + SHARE_VERSION + SHARE_DEPLOYMENT:
            return "deployment", deployment_body(rng, origin, day), False
        return "incident", incident_body(rng, origin, day), False

    def add(self, rid: bytes, kind: str, body: dict[str, Any], *, is_version: bool) -> None:
        if kind == "retraction":
            self.hidden.add(len(self.signed))
        elif is_version:
            self.versions.append(len(self.signed))
        self.signed.append((rid, body))


def sign_chunk(job: SignJob) -> list[Wire]:
    """Seqs first_seq.. of one feed. Runs in a worker process.

    Versions and retractions name recent records of the same chunk, so each is
    signed by the origin of its target and takes effect.
    """
    key = seeded_key(origin_label(job.origin))
    history = History(random.Random(job.seed))
    out: list[Wire] = []
    for offset, (created_ms, days) in enumerate(zip(job.created_ms, job.days, strict=True)):
        day = FIRST_DAY + datetime.timedelta(days=days)
        kind, body, is_version = history.next_body(job.origin, day)
        record = sign_record(
            key,
            network_id=NETWORK,
            audience=job.audience,
            seq=job.first_seq + offset,
            created_ms=created_ms,
            kind=kind,
            body=msgpack.packb(body, use_bin_type=True),
        )
        assert record.body is not None
        out.append((record.envelope_bytes, record.signature, record.body))
        history.add(record_id(record.envelope_bytes), kind, body, is_version=is_version)
    return out


def plan(count: int, seed: int) -> tuple[list[tuple[int, str]], list[int], list[SignJob]]:
    """The feeds, each record's feed in sending (creation) order, and the signing jobs."""
    rng = random.Random(seed)
    feeds = [(o, a) for o in range(ORIGINS) for a in AUDIENCE_WEIGHTS]
    weights = [AUDIENCE_WEIGHTS[a] / (o + 1) for o, a in feeds]  # Zipf over chapters
    span = (LAST_DAY - FIRST_DAY).days
    growth = math.log(2) / DOUBLING_DAYS
    scale = math.expm1(growth * span)
    first_ms = int(datetime.datetime(2018, 1, 1, tzinfo=datetime.UTC).timestamp() * 1000)
    slots = []
    for _ in range(count):
        day = int(math.log1p(rng.random() * scale) / growth)  # density grows exponentially
        lag_ms = int(rng.expovariate(1 / 20) * DAY_MS) + rng.randrange(DAY_MS)
        created = min(first_ms + day * DAY_MS + lag_ms, NOW_MS - rng.randrange(DAY_MS))
        slots.append((created, day))
    slots.sort()
    order = rng.choices(range(len(feeds)), weights, k=count)
    per_feed: dict[int, list[tuple[int, int]]] = {}
    for feed, slot in zip(order, slots, strict=True):
        per_feed.setdefault(feed, []).append(slot)
    jobs = []
    for feed, rows in sorted(per_feed.items()):
        origin, audience = feeds[feed]
        for start in range(0, len(rows), CHUNK):
            part = rows[start : start + CHUNK]
            jobs.append(
                SignJob(
                    origin,
                    audience,
                    start + 1,
                    [created for created, _ in part],
                    [day for _, day in part],
                    seed * 1_000_000 + feed * 1_000 + start // CHUNK,
                )
            )
    return feeds, order, jobs


@dataclass(frozen=True, slots=True)
class Dataset:
    path: Path
    records: int
    kinds: dict[str, int]
    feeds: int
    seconds: float  # to generate it, when it was generated
    workers: int
    cached: bool


def dataset_path(cache_dir: Path, count: int, seed: int) -> Path:
    return cache_dir / f"query-v{DATASET_VERSION}-n{count}-seed{seed}.bundle"


def generate(cache_dir: Path, count: int, seed: int, workers: int) -> Dataset:
    """The bundle of ``count`` records: from the cache, or generated, signed and cached."""
    path = dataset_path(cache_dir, count, seed)
    meta_path = path.with_suffix(".json")
    if path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        return Dataset(
            path, count, meta["kinds"], meta["feeds"], meta["seconds"], meta["workers"], True
        )
    started = time.perf_counter()
    feeds, order, jobs = plan(count, seed)
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(sign_chunk, jobs, chunksize=1))
    per_feed: dict[tuple[int, str], Iterator[Wire]] = {}
    for job, wires in zip(jobs, results, strict=True):
        feed = (job.origin, job.audience)
        per_feed[feed] = itertools.chain(per_feed.get(feed, iter(())), wires)
    kinds: Counter[str] = Counter()
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        out.write(encode_header(NETWORK, NOW_MS))
        pack = msgpack.Packer(use_bin_type=True).pack
        for feed_index in order:
            envelope, signature, body = next(per_feed[feeds[feed_index]])
            out.write(pack([envelope, signature, body]))
            kinds[msgpack.unpackb(envelope)[6]] += 1
        out.write(encode_trailer(count))
    partial.replace(path)
    seconds = time.perf_counter() - started
    meta = {"kinds": dict(kinds), "feeds": len(per_feed), "seconds": seconds, "workers": workers}
    meta_path.write_text(json.dumps(meta))
    return Dataset(path, count, dict(kinds), len(per_feed), seconds, workers, False)
