"""Query benchmark: stats, filtered pages and CSV export over a million records on a real node.

Run from the repository root::

    python -m bench.query                    # 1,000,000 records (setup takes minutes)
    python -m bench.query --records 20000    # a quick run to check the script

It generates signed records with realistic distributions (about 90 %
incidents and 10 % deployments from 80 chapters of very unequal size;
countries, cities, categories, technologies and about 200 agencies skewed
toward a few; dates from 2018 to 2026 that grow over time; some new versions
and retractions) on a process pool, and caches them as a signed-record bundle
keyed by the parameters, so reruns skip generation. It imports the bundle
into a fresh node with ``banscan import`` (the real verify and ingest
pipeline), starts the node (``banscan run --port 0`` on 127.0.0.1), and
measures with an analyst token, after warm-up and over several repetitions:

- ``GET /api/v1/stats?kind=incident&group_by=country,category,month``;
- filtered pages of 100 from ``GET /api/v1/incidents``;
- ``GET /api/v1/export?format=csv&kind=incident``, streamed and counted,
  with the node's peak RSS;
- the database size per record, after a checkpoint.

Each figure is printed next to its target in issue 5. A route the node does
not have yet (404) is reported as not measured. SQL equivalents run directly
on the database file with the ``sqlite3`` module are printed on their own,
labelled lines as lower bounds.

It reports and does not assert: the exit status is 0 when it measured, even
when a target is missed or a route is missing; 1 when it could not measure
(generation, import or the node failed); 2 for bad arguments.
"""

import argparse
import contextlib
import datetime
import hashlib
import http.client
import itertools
import json
import math
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import msgpack

from bench import harness
from bench.harness import Table, admit, checked, proc_status
from protocol.bundle import encode_header, encode_trailer
from protocol.envelope import record_id
from protocol.kinds import IncidentCategory, TechnologyType
from protocol.records import sign_record
from tests.factories import seeded_key
from tests.nodeproc import NodeProcess, banscan

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

TARGET_STATS_MS = 200
TARGET_PAGE_MS = 50
TARGET_EXPORT_RATE = 50_000

# country: (weight, [(region, city, lat, lon), ...]); a country's first cities are its busiest.
COUNTRIES: dict[str, tuple[float, list[tuple[str, str, float, float]]]] = {
    "US": (
        28,
        [
            ("NY", "New York", 40.71, -74.01),
            ("CA", "Los Angeles", 34.05, -118.24),
            ("IL", "Chicago", 41.88, -87.63),
            ("TX", "Houston", 29.76, -95.37),
            ("MI", "Detroit", 42.33, -83.05),
            ("GA", "Atlanta", 33.75, -84.39),
            ("LA", "New Orleans", 29.95, -90.07),
        ],
    ),
    "GB": (
        14,
        [
            ("ENG", "London", 51.51, -0.13),
            ("ENG", "Manchester", 53.48, -2.24),
            ("WLS", "Cardiff", 51.48, -3.18),
            ("SCT", "Glasgow", 55.86, -4.25),
        ],
    ),
    "IN": (
        10,
        [
            ("TG", "Hyderabad", 17.39, 78.49),
            ("DL", "Delhi", 28.61, 77.21),
            ("MH", "Mumbai", 19.08, 72.88),
            ("KA", "Bengaluru", 12.97, 77.59),
        ],
    ),
    "BR": (
        8,
        [
            ("SP", "São Paulo", -23.55, -46.63),
            ("RJ", "Rio de Janeiro", -22.91, -43.17),
            ("BA", "Salvador", -12.97, -38.50),
        ],
    ),
    "AR": (6, [("C", "Buenos Aires", -34.60, -58.38), ("X", "Córdoba", -31.42, -64.18)]),
    "FR": (
        5,
        [("IDF", "Paris", 48.86, 2.35), ("ARA", "Lyon", 45.76, 4.84), ("PAC", "Nice", 43.70, 7.27)],
    ),
    "DE": (
        5,
        [
            ("BE", "Berlin", 52.52, 13.40),
            ("HH", "Hamburg", 53.55, 9.99),
            ("BY", "Munich", 48.14, 11.58),
        ],
    ),
    "RU": (3, [("MOW", "Moscow", 55.76, 37.62), ("SPE", "Saint Petersburg", 59.93, 30.34)]),
    "CN": (3, [("BJ", "Beijing", 39.90, 116.41), ("SH", "Shanghai", 31.23, 121.47)]),
    "MX": (
        2.5,
        [("CMX", "Ciudad de México", 19.43, -99.13), ("JAL", "Guadalajara", 20.67, -103.35)],
    ),
    "CA": (2.5, [("ON", "Toronto", 43.65, -79.38), ("BC", "Vancouver", 49.28, -123.12)]),
    "AU": (2, [("NSW", "Sydney", -33.87, 151.21), ("VIC", "Melbourne", -37.81, 144.96)]),
    "ZA": (1.5, [("GT", "Johannesburg", -26.20, 28.05), ("WC", "Cape Town", -33.92, 18.42)]),
    "NL": (1.5, [("NH", "Amsterdam", 52.37, 4.90), ("ZH", "Rotterdam", 51.92, 4.48)]),
    "IT": (1.5, [("RM", "Rome", 41.90, 12.50), ("MI", "Milan", 45.46, 9.19)]),
    "ES": (1.5, [("MD", "Madrid", 40.42, -3.70), ("B", "Barcelona", 41.39, 2.17)]),
    "KE": (1, [("30", "Nairobi", -1.29, 36.82)]),
    "NG": (1, [("LA", "Lagos", 6.52, 3.38)]),
    "HK": (1, [("HK", "Hong Kong", 22.32, 114.17)]),
    "JP": (1, [("13", "Tokyo", 35.68, 139.69)]),
    "TR": (1, [("34", "Istanbul", 41.01, 28.98)]),
    "CL": (1, [("RM", "Santiago", -33.45, -70.67)]),
    "CO": (1, [("DC", "Bogotá", 4.71, -74.07)]),
    "PL": (0.8, [("14", "Warsaw", 52.23, 21.01)]),
    "IE": (0.7, [("D", "Dublin", 53.35, -6.26)]),
}
CITY_AGENCIES = ("Police Department", "Transit Police", "Sheriff's Office", "Municipal Guard")
NATIONAL_AGENCIES = ("Border Agency", "National Police", "Immigration Service", "Interior Ministry")
# Relative weights by name; a category or technology the schema adds later gets weight 2.
CATEGORY_WEIGHTS = {
    "protest_surveillance": 22,
    "stop_and_search": 15,
    "misidentification": 12,
    "immigration_enforcement": 10,
    "data_sharing": 9,
    "harassment": 8,
    "other": 8,
    "wrongful_arrest": 6,
    "home_visit_or_raid": 5,
    "school_or_workplace": 5,
}
TECHNOLOGY_WEIGHTS = {
    "live_frt": 40,
    "retrospective_frt": 30,
    "mobile_app": 15,
    "other": 10,
    "drone": 5,
}
CATEGORIES: tuple[str, ...] = get_args(IncidentCategory)
TECHNOLOGIES: tuple[str, ...] = get_args(TechnologyType)
VERIFICATION = ("unverified", "corroborated", "verified")
VERIFICATION_WEIGHTS = (50, 35, 15)
DEPLOYMENT_STATUS = ("reported", "corroborated", "confirmed", "disputed", "removed")
DEPLOYMENT_STATUS_WEIGHTS = (50, 25, 15, 5, 5)
RETRACTION_REASONS = ("duplicate", "error", "safety", "consent_withdrawn")
RETRACTION_WEIGHTS = (50, 30, 10, 8)
TAGS = ("vans", "protest", "school", "stadium", "transit", "vendor", "foia", "court", "minor")

# Summaries are assembled from these, so the full-text index sees a realistic vocabulary.
WHO = (
    "a student",
    "a delivery rider",
    "two journalists",
    "a group of protesters",
    "a street vendor",
    "a teenager",
    "a migrant worker",
    "a nurse on her way home",
    "several fans",
    "a taxi driver",
    "an elderly man",
    "a union organiser",
    "a local shopkeeper",
    "three climate activists",
    "a football supporter",
)
WHERE = (
    "outside the central station",
    "near the stadium",
    "at a metro entrance",
    "on the high street",
    "next to the university campus",
    "at the airport arrivals hall",
    "in a shopping centre",
    "during a housing protest",
    "at a music festival",
    "by the town hall",
    "at a border checkpoint",
    "in a public park",
    "at the bus terminal",
    "outside a mosque",
    "during a union march",
)
WHAT = (
    "was stopped after a live facial recognition alert",
    "was flagged by a camera van as a match to a watch list",
    "was wrongly identified as a wanted suspect",
    "was photographed by officers with a handheld app",
    "was questioned for forty minutes before being released",
    "was followed by a drone for most of the afternoon",
    "had their image searched against a mugshot database",
    "was detained overnight on the strength of a false match",
    "was visited at home days later by plain-clothes officers",
    "was refused entry after an automated identity check",
)
AFTER = (
    "A records request later confirmed that the agency used a vendor watch list.",
    "Local reporters documented the deployment and archived the footage.",
    "The chapter corroborated the account with two independent witnesses.",
    "No notice of the deployment was given to the public beforehand.",
    "The agency declined to say how long the images would be retained.",
    "A lawyer has filed a complaint with the data protection authority.",
    "Council minutes show the cameras were bought with an emergency grant.",
    "The vendor's contract was renewed without a public consultation.",
    "Witnesses said the van had no signage and its operators wore no badges.",
    "The person was released once their identity was confirmed by hand.",
    "Photos of the signage were shared with the chapter the same evening.",
    "An appeal against the arrest is pending before the magistrates court.",
    "The school denied that pupils' photographs were shared with the police.",
    "Freedom of information answers list the supplier as a subcontractor.",
)
_WORD_TEXT = """
    biometric algorithm accuracy threshold bias consent warrant oversight audit procurement
    retention database checkpoint curfew rally vigil strike eviction raid match alert
    footage tender pilot trial ordinance moratorium lawsuit injunction tribunal ombudsman
    councillor journalist subcontractor watchlist livestream hotline leaflet signage stadium
"""
WORDS = tuple(_WORD_TEXT.split())
FTS_WORD = "moratorium"  # about 1 % of summaries carry it
GEOHASH = "0123456789bcdefghjkmnpqrstuvwxyz"


def zipf_weights(count: int, exponent: float = 1.0) -> list[float]:
    return [1 / (i + 1) ** exponent for i in range(count)]


def geohash(lat: float, lon: float, precision: int) -> str:
    lat_range, lon_range = [-90.0, 90.0], [-180.0, 180.0]
    bits, value, even = 0, 0, True
    out: list[str] = []
    while len(out) < precision:
        span = lon_range if even else lat_range
        mid = (span[0] + span[1]) / 2
        x = lon if even else lat
        value <<= 1
        if x >= mid:
            value |= 1
            span[0] = mid
        else:
            span[1] = mid
        even = not even
        bits += 1
        if bits == 5:
            out.append(GEOHASH[value])
            bits, value = 0, 0
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Place:
    country: str
    region: str
    city: str
    lat: float
    lon: float
    agencies: tuple[str, ...]  # busiest first


def places() -> dict[str, tuple[list[Place], list[float]]]:
    """Each country's cities (with their agencies) and the cities' weights."""
    out = {}
    for country, (_, cities) in COUNTRIES.items():
        national = tuple(f"{country} {name}" for name in NATIONAL_AGENCIES[:2])
        rows = []
        for index, (region, city, lat, lon) in enumerate(cities):
            own = tuple(f"{city} {name}" for name in CITY_AGENCIES[: 4 - min(index, 2)])
            rows.append(Place(country, region, city, lat, lon, own[:1] + national + own[1:]))
        out[country] = (rows, zipf_weights(len(rows), 1.2))
    return out


PLACES = places()
COUNTRY_CODES = tuple(COUNTRIES)
COUNTRY_WEIGHTS = tuple(weight for weight, _ in COUNTRIES.values())


def origin_label(origin: int) -> str:
    return f"banscan-query-bench-origin-{origin}"


def origin_home(origin: int) -> str:
    """The country a chapter works in; the biggest chapters are in the biggest countries."""
    if origin < 8:
        return COUNTRY_CODES[origin]
    return random.Random(f"home-{origin}").choices(COUNTRY_CODES, COUNTRY_WEIGHTS)[0]


# --- generating records ------------------------------------------------------------------


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


def sign_chunk(job: SignJob) -> list[Wire]:
    """Seqs first_seq.. of one feed. Runs in a worker process.

    Versions and retractions name recent records of the same chunk, so each is
    signed by the origin of its target and takes effect.
    """
    key = seeded_key(origin_label(job.origin))
    rng = random.Random(job.seed)
    out: list[Wire] = []
    history: list[tuple[bytes, dict[str, Any]]] = []  # id and body of each record signed
    hidden: set[int] = set()  # indexes in history of superseded and retracted records
    versions: list[int] = []  # indexes in history of new versions

    def recent() -> int | None:
        for _ in range(5):
            index = rng.randrange(max(0, len(history) - 2_000), len(history))
            if index not in hidden:
                return index
        return None

    for offset, (created_ms, days) in enumerate(zip(job.created_ms, job.days, strict=True)):
        draw = rng.random()
        day = FIRST_DAY + datetime.timedelta(days=days)
        target = recent() if history and draw < SHARE_RETRACTION + SHARE_VERSION else None
        is_version = False
        if target is not None and draw < SHARE_RETRACTION:
            kind = "retraction"
            reason = rng.choices(RETRACTION_REASONS, RETRACTION_WEIGHTS)[0]
            body: dict[str, Any] = {"target": history[target][0].hex(), "reason": reason}
            hidden.add(target)
        elif target is not None:
            # A third of new versions revise a record that is already a new version: chains.
            live = [i for i in versions[-50:] if i not in hidden]
            if live and rng.random() < 0.33:
                target = rng.choice(live)
            body = new_version(rng, history[target][1], history[target][0])
            kind = "deployment" if "lat_e7" in body else "incident"
            hidden.add(target)
            is_version = True
        elif draw < SHARE_RETRACTION + SHARE_VERSION + SHARE_DEPLOYMENT:
            kind = "deployment"
            body = deployment_body(rng, job.origin, day)
        else:
            kind = "incident"
            body = incident_body(rng, job.origin, day)
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
        rid = record_id(record.envelope_bytes)
        if kind == "retraction":
            hidden.add(len(history))
        elif is_version:
            versions.append(len(history))
        history.append((rid, body))
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


# --- measuring ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds per repetition (after warm-up), and what the answer held."""

    seconds: list[float]
    items: int | None = None
    error: str | None = None

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)] * 1000


def count_items(answer: Any) -> int | None:
    """The length of the first list in a JSON answer (the groups or the page's items)."""
    if isinstance(answer, list):
        return len(answer)
    if isinstance(answer, dict):
        for key in ("groups", "rows", "items", "records", "data", "results", "chapters"):
            if isinstance(answer.get(key), list):
                return len(answer[key])
        for value in answer.values():
            if isinstance(value, list):
                return len(value)
    return None


class Client:
    def __init__(self, url: str, token: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.hostname != "127.0.0.1" or parts.port is None:
            raise RuntimeError(f"the node serves {url}, not on 127.0.0.1")
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str) -> tuple[int, bytes]:
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


def route_error(status: int, answer: bytes) -> str:
    if status == 404:
        return "not measured: route missing"
    return f"not measured: HTTP {status} {answer[:300].decode(errors='replace')}"


def time_get(client: Client, path: str, warmup: int, repeat: int) -> Timing:
    items = None
    for _ in range(warmup):
        status, answer = client.get(path)
        if status != 200:
            return Timing([], error=route_error(status, answer))
    seconds = []
    for _ in range(repeat):
        began = time.perf_counter()
        status, answer = client.get(path)
        seconds.append(time.perf_counter() - began)
        if status != 200:
            return Timing([], error=route_error(status, answer))
        items = count_items(json.loads(answer))
    return Timing(seconds, items)


@dataclass(frozen=True, slots=True)
class Export:
    rows: int
    seconds: float
    bytes: int
    error: str | None = None

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def time_export(client: Client, path: str) -> Export:
    """Stream the CSV export and count its data rows (the header and the HXL row excluded).

    Generated summaries and names hold no newlines, so lines are rows."""
    began = time.perf_counter()
    client.conn.request("GET", path, headers=client.headers)
    response = client.conn.getresponse()
    if response.status != 200:
        return Export(0, 0, 0, route_error(response.status, response.read()))
    lines = size = 0
    while chunk := response.read(1 << 16):
        lines += chunk.count(b"\n")
        size += len(chunk)
    return Export(max(0, lines - 2), time.perf_counter() - began, size)


def time_sql(db: Path, sql: str, params: Sequence[Any], warmup: int, repeat: int) -> Timing:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows: list[Any] = []
        for _ in range(warmup):
            rows = conn.execute(sql, params).fetchall()
        seconds = []
        for _ in range(repeat):
            began = time.perf_counter()
            rows = conn.execute(sql, params).fetchall()
            seconds.append(time.perf_counter() - began)
        return Timing(seconds, len(rows))
    finally:
        conn.close()


def time_sql_stream(db: Path, sql: str) -> Export:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        began = time.perf_counter()
        rows = size = 0
        for row in conn.execute(sql):
            rows += 1
            size += len(row[3] or b"")
        return Export(rows, time.perf_counter() - began, size)
    finally:
        conn.close()


# The conditions storage/queries.py puts on every read (current records, all audiences for
# an analyst), and its default order (newest created first), written out by hand.
VISIBLE = (
    "r.kind = 'incident' AND r.superseded_by IS NULL AND r.retracted_by IS NULL "
    "AND r.erased_ms IS NULL AND r.audience IN ('public', 'network', 'coordinators')"
)
STATS_SQL = (
    "SELECT r.country, r.category, substr(r.occurred_on, 1, 7), COUNT(*), "
    "COUNT(DISTINCT r.origin), MIN(r.occurred_on), MAX(r.occurred_on) FROM records r "
    f"WHERE {VISIBLE} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
)
PAGE_COLUMNS = (
    "r.rid, r.envelope, r.signature, b.body, r.created_ms, r.country, r.region, r.city, "
    "r.category, r.technology, r.agency, r.status, r.occurred_on, r.area, r.lat_e7, r.lon_e7"
)
PAGE_SQL = (
    f"SELECT {PAGE_COLUMNS} FROM records r LEFT JOIN bodies b ON b.rid = r.rid "
    f"WHERE {VISIBLE} AND r.country = ? AND r.category = ? AND r.occurred_on >= ? "
    "ORDER BY r.created_ms DESC, r.rid DESC LIMIT 100"
)
FTS_SQL = (
    f"SELECT {PAGE_COLUMNS} FROM records r LEFT JOIN bodies b ON b.rid = r.rid "
    f"WHERE {VISIBLE} AND r.rid IN (SELECT rowid FROM summaries WHERE summaries MATCH ?) "
    "ORDER BY r.created_ms DESC, r.rid DESC LIMIT 100"
)
EXPORT_SQL = (
    f"SELECT {PAGE_COLUMNS} FROM records r LEFT JOIN bodies b ON b.rid = r.rid "
    f"WHERE {VISIBLE} ORDER BY r.created_ms, r.rid"
)
PAGE_FILTER = ("US", "protest_surveillance", "2023-01-01")


def db_breakdown(db: Path) -> list[tuple[str, int]]:
    """Bytes on disk per table and index, largest first (needs SQLite's dbstat table)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    return [(str(name), int(size)) for name, size in rows]


def apply_sql(db: Path, sql: str) -> float:
    """Run one statement on the database (the node is not running); its time in seconds."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        began = time.perf_counter()
        conn.execute(sql)
        return time.perf_counter() - began
    finally:
        conn.close()


def checkpoint(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


# --- report ------------------------------------------------------------------------------


TABLE = Table(measure=52, value=22, target=20)
row = TABLE.row


def latency_row(label: str, timing: Timing, target_ms: float | None) -> str:
    if timing.error:
        return row(label, "", f"<= {target_ms:,.0f} ms" if target_ms else "", timing.error)
    value = f"{timing.median_ms:,.1f} / {timing.p95_ms:,.1f} ms"
    if target_ms is None:
        return row(label, value, "", f"{timing.items} rows")
    verdict = "ok" if timing.median_ms <= target_ms else "ABOVE TARGET"
    if timing.items is not None:
        verdict += f" ({timing.items} rows)"
    return row(label, value, f"<= {target_ms:,.0f} ms", verdict)


def measure(
    data_dir: Path, token: str, records: int, warmup: int, repeat: int, lines: list[str]
) -> None:
    """Start the node, time every route and its SQL equivalent, stop it, size the database."""
    db = data_dir / "banscan.db"
    node = NodeProcess(data_dir)
    try:
        started = time.perf_counter()
        url = node.wait_serving(timeout=600)
        lines.append(
            row("node start (migrations, open)", f"{time.perf_counter() - started:,.1f} s")
        )
        client = Client(url, token)
        try:
            stats = time_get(
                client,
                "/api/v1/stats?kind=incident&group_by=country,category,month",
                warmup,
                repeat,
            )
            lines.append(
                latency_row("stats country x category x month, p50 / p95", stats, TARGET_STATS_MS)
            )
            country, category, since = PAGE_FILTER
            filtered = time_get(
                client,
                f"/api/v1/incidents?country={country}&category={category}"
                f"&occurred_from={since}&limit=100",
                warmup,
                repeat,
            )
            lines.append(
                latency_row(
                    f"page of 100: {country}, {category}, from {since}", filtered, TARGET_PAGE_MS
                )
            )
            text = time_get(client, f"/api/v1/incidents?q={FTS_WORD}&limit=100", warmup, repeat)
            lines.append(latency_row(f"page of 100: q={FTS_WORD}", text, TARGET_PAGE_MS))
            plain = time_get(client, "/api/v1/incidents?limit=100", warmup, repeat)
            lines.append(latency_row("page of 100: no filter", plain, TARGET_PAGE_MS))
            coverage = time_get(client, "/api/v1/coverage", warmup, repeat)
            lines.append(latency_row("coverage (no target)", coverage, None))
            rss_before = proc_status(node.pid)["VmRSS"]
            export = time_export(client, "/api/v1/export?format=csv&kind=incident")
        finally:
            client.close()
        status = proc_status(node.pid)
        if export.error:
            lines.append(
                row(
                    "CSV export of incidents", "", f">= {TARGET_EXPORT_RATE:,} rows/s", export.error
                )
            )
        else:
            ok = export.rate >= TARGET_EXPORT_RATE
            lines.append(
                row(
                    "CSV export of incidents",
                    f"{export.rate:,.0f} rows/s",
                    f">= {TARGET_EXPORT_RATE:,} rows/s",
                    "ok" if ok else "BELOW TARGET",
                )
            )
            lines.append(
                row(
                    "  rows, time, size",
                    f"{export.rows:,} in {export.seconds:,.1f} s",
                    f"{export.bytes / 2**20:,.0f} MiB",
                )
            )
        lines.append(
            row(
                "  node peak RSS (VmHWM) / RSS before export",
                f"{status['VmHWM'] / 1024:,.1f} / {rss_before / 1024:,.1f} MiB",
            )
        )
        # SQL equivalents on the same file, while the node holds it: lower bounds.
        lines.append(row("SQL lower bounds (sqlite3 module, no HTTP, no JSON):", ""))
        # The scan over records that the stats rollup replaces: for comparison, no target.
        lines.append(
            latency_row(
                "  SQL scan stats GROUP BY country, category, month (no rollup)",
                time_sql(db, STATS_SQL, (), warmup, repeat),
                None,
            )
        )
        lines.append(
            latency_row(
                f"  SQL page: {country}, {category}, from {since}",
                time_sql(db, PAGE_SQL, PAGE_FILTER, warmup, repeat),
                TARGET_PAGE_MS,
            )
        )
        lines.append(
            latency_row(
                f"  SQL page: FTS MATCH {FTS_WORD}",
                time_sql(db, FTS_SQL, (f'"{FTS_WORD}"',), warmup, repeat),
                TARGET_PAGE_MS,
            )
        )
        raw = time_sql_stream(db, EXPORT_SQL)
        lines.append(
            row(
                "  SQL incident rows with bodies, in created order",
                f"{raw.rate:,.0f} rows/s",
                f">= {TARGET_EXPORT_RATE:,} rows/s",
                f"{raw.rows:,} rows",
            )
        )
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.stop(signal.SIGTERM, timeout=120)
        node.close()
    checkpoint(db)
    size = sum(p.stat().st_size for p in data_dir.glob("banscan.db*"))
    lines.append(
        row(
            "database + WAL after a checkpoint",
            f"{size / records:,.0f} bytes/record",
            "bytes per record",
            f"{size / 2**20:,.0f} MiB for {records:,}",
        )
    )
    for name, part in db_breakdown(db)[:12]:
        lines.append(row(f"  {name}", f"{part / records:,.0f} B/rec", f"{part / 2**20:,.0f} MiB"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.query", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--records", type=int, default=1_000_000, help="records (1000000)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "banscan-bench-cache",
        help="where generated bundles are kept (default: $TMPDIR/banscan-bench-cache)",
    )
    parser.add_argument("--repeat", type=int, default=10, help="timed repetitions (10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests first (2)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the generated records")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="signing processes (all cores)"
    )
    parser.add_argument(
        "--node-dir",
        type=Path,
        help="keep the node's data directory here; if it already holds an imported node, "
        "reuse it and skip the import (default: a temporary directory, removed)",
    )
    parser.add_argument(
        "--extra-sql",
        action="append",
        default=[],
        metavar="SQL",
        help="a statement (e.g. CREATE INDEX IF NOT EXISTS ...) to run on the benchmark node's "
        "database before the node starts, to compare candidate indexes (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.records < 1_000 or args.repeat < 1 or args.warmup < 0 or args.workers < 1:
        parser.error("--records must be >= 1000, --repeat and --workers >= 1, --warmup >= 0")
    return args


def import_dataset(data_dir: Path, data: Dataset, lines: list[str]) -> str:
    """Import the bundle into a new node at ``data_dir``, or reuse the node a previous run
    left there; an analyst token."""
    if (data_dir / "banscan.db").is_file() and (data_dir / "bench-token").is_file():
        lines.append(row("import (setup)", "reused", str(data_dir)))
        return (data_dir / "bench-token").read_text().strip()
    checked(banscan("init", "--data-dir", str(data_dir), "--network", NETWORK), "banscan init")
    admit(data_dir, [seeded_key(origin_label(o)).public_key for o in range(ORIGINS)])
    print("importing the bundle with banscan import ...", flush=True)
    began = time.perf_counter()
    answer = checked(
        banscan("import", "--data-dir", str(data_dir), str(data.path), timeout=7_200),
        "banscan import",
    )
    seconds = time.perf_counter() - began
    lines.append(
        row(
            "import with banscan import (setup)",
            f"{seconds:,.1f} s",
            f"{data.records / seconds:,.0f} rec/s",
            answer.strip().rpartition(": ")[2],
        )
    )
    token = checked(
        banscan(
            "token", "create", "--data-dir", str(data_dir), "--role", "analyst", "--label", "bench"
        ),
        "banscan token create",
    ).strip()
    (data_dir / "bench-token").write_text(token + "\n")
    return token


def measure_all(args: argparse.Namespace) -> int:
    lines = ["", *TABLE.head()]
    try:
        print(f"generating {args.records:,} records (or reading the cache) ...", flush=True)
        data = generate(args.cache_dir, args.records, args.seed, args.workers)
    except (OSError, RuntimeError) as exc:
        print(f"ERROR: generating the records: {exc}", file=sys.stderr)
        return 1
    print(f"dataset {data.path} ({data.path.stat().st_size / 2**20:,.0f} MiB)", flush=True)
    kinds = ", ".join(f"{n:,} {kind}" for kind, n in sorted(data.kinds.items()))
    lines.append(
        row(
            "generate and sign (setup)",
            f"{data.seconds:,.1f} s",
            f"{data.workers} processes",
            "cached: read from the cache" if data.cached else "generated now, cached",
        )
    )
    lines.append(row("  records", f"{data.records:,}", f"{data.feeds} feeds", kinds))

    temporary = None
    if args.node_dir is None:
        temporary = tempfile.TemporaryDirectory(prefix="banscan-bench-query-")
        data_dir = Path(temporary.name) / "node"
    else:
        data_dir = args.node_dir
    try:
        token = import_dataset(data_dir, data, lines)
        for sql in args.extra_sql:
            seconds = apply_sql(data_dir / "banscan.db", sql)
            lines.append(row("extra SQL (setup)", f"{seconds:,.1f} s", "", " ".join(sql.split())))
        print("measuring ...", flush=True)
        measure(data_dir, token, data.records, args.warmup, args.repeat, lines)
    except (RuntimeError, TimeoutError, OSError, subprocess.TimeoutExpired, sqlite3.Error) as exc:
        print("\n".join(lines))
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    finally:
        if temporary is not None:
            temporary.cleanup()
    lines.append(
        f"  (analyst token: all audiences; p50 / p95 over {args.repeat} requests "
        f"after {args.warmup} warm-up)"
    )
    print("\n".join(lines))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return harness.main("query", parse_args, measure_all, argv)


if __name__ == "__main__":
    sys.exit(main())
