"""Generated incidents and deployments for the query tests, with plain-Python answers.

:func:`generate` signs a seeded, varied set of records from a few chapters;
:class:`Generated` keeps their bodies so each test can compute what a query
or an aggregate should answer without the node.
"""

import datetime
import random
from dataclasses import dataclass, field
from typing import Any

from protocol.keys import NodeKey
from protocol.records import SignedRecord
from tests.factories import deployment_body, incident_body, seeded_key, signed

CHAPTERS = tuple(seeded_key(f"chapter {n}") for n in range(4))
COUNTRIES = ("US", "GB", "DE", "FR", "BR")
CITIES = {"US": "New York", "GB": "London", "DE": "Berlin", "FR": "Paris", "BR": "São Paulo"}
CATEGORIES = ("misidentification", "wrongful_arrest", "protest_surveillance", "harassment")
TECHNOLOGIES = ("live_frt", "retrospective_frt", "drone")
AGENCIES = ("NYPD", "Met Police", "Bundespolizei", None)
VERIFICATION = ("unverified", "corroborated", "verified")
DEPLOYMENT_STATUS = ("reported", "corroborated", "confirmed")
FRT = ("confirmed", "suspected", "unknown")
AREAS = ("gcpvj0", "gcpvj1", "gcpuvx", "dr5ru7", "u33db2", "u09tvw")
WORDS = ("vans", "march", "camera", "arrest", "station", "school", "drone", "border", "match")
AUDIENCES = ("public", "public", "network", "coordinators")


@dataclass
class Item:
    record: SignedRecord
    kind: str
    audience: str
    origin: NodeKey
    body: dict[str, Any]
    created_ms: int
    current: bool = True

    @property
    def id(self) -> str:
        return self.record.id.hex()


@dataclass
class Generated:
    items: list[Item] = field(default_factory=list)
    seqs: dict[tuple[bytes, str], int] = field(default_factory=dict)

    def add(
        self, key: NodeKey, kind: str, audience: str, body: dict[str, Any], created_ms: int
    ) -> Item:
        feed = (key.public_key, audience)
        seq = self.seqs.get(feed, 0) + 1
        self.seqs[feed] = seq
        record = signed(
            key, seq, kind=kind, audience=audience, body=body, created_ms=created_ms - seq
        )
        item = Item(record, kind, audience, key, body, created_ms)
        self.items.append(item)
        return item

    def visible(self, kind: str, audiences: tuple[str, ...]) -> list[Item]:
        return [i for i in self.items if i.kind == kind and i.current and i.audience in audiences]


def random_incident(rng: random.Random) -> dict[str, Any]:
    country = rng.choice(COUNTRIES)
    day = datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randrange(730))
    precision = rng.choice(("day", "day", "month"))
    date = day.isoformat() if precision == "day" else day.replace(day=1).isoformat()
    agency = rng.choice(AGENCIES)
    overrides: dict[str, Any] = {
        "occurred_on": {"date": date, "precision": precision},
        "country": country,
        "region": rng.choice(("North", "South")),
        "city": CITIES[country],
        "area": rng.choice(AREAS),
        "category": rng.choice(CATEGORIES),
        "technology": {"type": rng.choice(TECHNOLOGIES)},
        "summary": " ".join(rng.choice(WORDS) for _ in range(6)),
        "verification": {"status": rng.choice(VERIFICATION), "confirmations": 1},
    }
    body = incident_body(**overrides)
    if agency is None:
        del body["agency"]
    else:
        body["agency"] = {"name": agency}
    return body


def random_deployment(rng: random.Random) -> dict[str, Any]:
    country = rng.choice(COUNTRIES)
    lat_e7 = rng.randrange(-900_000_000, 900_000_001)
    body = deployment_body(
        lat_e7=lat_e7,
        lon_e7=rng.randrange(-1_800_000_000, 1_800_000_001),
        country=country,
        city=CITIES[country],
        status=rng.choice(DEPLOYMENT_STATUS),
        # From the latitude, so the random sequence (and every other test's data) stays.
        frt_capability={"status": FRT[lat_e7 % 3], "basis": []},
    )
    if rng.random() < 0.5:
        body["observed_on"] = {"date": f"2025-0{rng.randrange(1, 10)}-01", "precision": "month"}
    return body


def generate(count: int, seed: int = 5) -> Generated:
    generated = Generated()
    add_random(generated, random.Random(seed), count)
    return generated


def add_random(generated: Generated, rng: random.Random, count: int) -> list[Item]:
    """``count`` more random records, continuing each chapter's feeds."""
    added = []
    for _ in range(count):
        key = rng.choice(CHAPTERS)
        kind = "incident" if rng.random() < 0.7 else "deployment"
        body = random_incident(rng) if kind == "incident" else random_deployment(rng)
        n = len(generated.items)
        created_ms = 1_750_000_000_000 + rng.randrange(10_000_000) * 1000 + n
        added.append(generated.add(key, kind, rng.choice(AUDIENCES), body, created_ms))
    return added


def supersede_and_retract(generated: Generated, rng: random.Random, count: int) -> list[Item]:
    """New records: later versions of ``count`` items and retractions of ``count`` others."""
    candidates = [i for i in generated.items if i.current]
    chosen = rng.sample(candidates, 2 * count)
    new = []
    for old in chosen[:count]:
        body = dict(old.body, supersedes=old.id)
        new.append(generated.add(old.origin, old.kind, old.audience, body, old.created_ms + 7))
        old.current = False
    for old in chosen[count:]:
        retraction = {"target": old.id, "reason": "error"}
        item = generated.add(old.origin, "retraction", "public", retraction, 1_760_000_000_000)
        item.current = False
        new.append(item)
        old.current = False
    return new
