"""Likely duplicates of a submission, found from clear fields only.

The node cannot read a report's narrative or exact place, so it narrows the
field by what it can read: open submissions and current records of the same
kind and country whose date is within ``days``. Each is scored on the clear
fields it shares (city, category, technology, agency), how close the dates are,
and, when the desk sends the coarse area cell it derived from the decrypted
place, how close the record's cell or point is. The desk adds text similarity
after decrypting (docs/api.md, ``GET /api/v1/submissions/{id}/candidates``).
"""

import datetime
import json
import math
from dataclasses import dataclass
from typing import Any, Final

from protocol.geohash import cell_index, decode, encode
from storage.candidates import current_records, open_submissions
from storage.database import Database
from storage.submissions import Submission

# How much each shared trait weighs; closeness of dates adds up to 1 more.
_WEIGHTS: Final = {
    "same_city": 2.0,
    "same_category": 2.0,
    "same_technology": 1.0,
    "same_agency": 1.0,
    "same_day": 2.0,
    "near_date": 0.0,
    "same_area": 3.0,
    "neighbouring_area": 2.0,
    "within_radius": 3.0,
}
_SHARED: Final = ("city", "category", "technology", "agency")
_EARTH_M: Final = 6_371_000


@dataclass(frozen=True, slots=True)
class CandidateQuery:
    days: int = 14
    area: str | None = None
    radius_m: int = 500
    limit: int = 20


def _same(a: Any, b: Any) -> bool:
    return (
        isinstance(a, str) and isinstance(b, str) and a.strip().casefold() == b.strip().casefold()
    )


def _date_traits(mine: str | None, theirs: str | None, days: int) -> tuple[list[str], float]:
    if not mine or not theirs:
        return [], 0.0
    apart = abs((datetime.date.fromisoformat(mine) - datetime.date.fromisoformat(theirs[:10])).days)
    if apart == 0:
        return ["same_day"], 1.0
    return ["near_date"], max(0.0, 1 - apart / (days + 1))


def _score(why: list[str], closeness: float) -> float:
    return round(sum(_WEIGHTS[w] for w in why) + closeness, 3)


def _area_traits(area: str, theirs: str | None) -> list[str]:
    """same_area when one cell holds the other; neighbouring_area when, at the coarser of
    the two precisions, the cells touch."""
    if not theirs:
        return []
    precision = min(len(area), len(theirs))
    a, b = area[:precision], theirs[:precision]
    if a == b:
        return ["same_area"]
    (ax, ay), (bx, by) = cell_index(a), cell_index(b)
    return ["neighbouring_area"] if abs(ax - bx) <= 1 and abs(ay - by) <= 1 else []


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_M * math.asin(min(1.0, math.sqrt(h)))


def _window(submission: Submission, days: int) -> tuple[str, str, str]:
    day = str(submission.triage.get("occurred_on", submission.received_on))
    center = datetime.date.fromisoformat(day)
    step = datetime.timedelta(days=days)
    return day, (center - step).isoformat(), (center + step).isoformat()


async def find_candidates(
    db: Database, submission: Submission, query: CandidateQuery
) -> dict[str, list[dict[str, Any]]]:
    """{"submissions": [...], "records": [...]}, each best first, at most ``limit``."""
    day, low, high = _window(submission, query.days)
    return {
        "submissions": await _submissions(db, submission, day, low, high, query),
        "records": await _records(db, submission, day, low, high, query),
    }


async def _submissions(
    db: Database, submission: Submission, day: str, low: str, high: str, query: CandidateQuery
) -> list[dict[str, Any]]:
    mine = submission.triage
    rows = await open_submissions(
        db,
        kind=submission.kind,
        country=mine.get("country"),
        low=low,
        high=high,
        besides=submission.id,
    )
    found = []
    for submission_id, status, received_on, triage in rows:
        theirs = json.loads(triage)
        why = [f"same_{name}" for name in _SHARED if _same(mine.get(name), theirs.get(name))]
        dated, closeness = _date_traits(day, theirs.get("occurred_on"), query.days)
        why += dated
        found.append(
            {
                "id": submission_id,
                "status": status,
                "received_on": received_on,
                "triage": theirs,
                "score": _score(why, closeness),
                "why": why,
            }
        )
    found.sort(key=lambda c: (-c["score"], c["id"]))
    return found[: query.limit]


async def _records(
    db: Database, submission: Submission, day: str, low: str, high: str, query: CandidateQuery
) -> list[dict[str, Any]]:
    mine = submission.triage
    # A deployment's date is when it was seen, and may be absent: the place matters more.
    rows = await current_records(
        db,
        kind=submission.kind,
        country=mine.get("country"),
        low=low,
        high=high,
        undated=submission.kind == "deployment",
    )
    found = []
    for row in rows:
        fields = {name: row[name] for name in _SHARED}
        why = [f"same_{name}" for name, value in fields.items() if _same(mine.get(name), value)]
        dated, closeness = _date_traits(day, row["occurred_on"], query.days)
        why += dated
        # Only a deployment has a point; an incident is never located as one.
        point = row["kind"] == "deployment" and row["lat_e7"] is not None
        lat = row["lat_e7"] / 1e7 if point else None
        lon = row["lon_e7"] / 1e7 if point else None
        if query.area is not None:
            why += _place_traits(query, row["area"], lat, lon)
        found.append(
            {
                "record_id": bytes(row["id"]).hex(),
                "kind": row["kind"],
                "audience": row["audience"],
                "occurred_on": row["occurred_on"],
                "country": row["country"],
                **fields,
                "area": row["area"],
                "lat": lat,
                "lon": lon,
                "score": _score(why, closeness),
                "why": why,
            }
        )
    found.sort(key=lambda c: (-c["score"], c["record_id"]))
    return found[: query.limit]


def _place_traits(
    query: CandidateQuery, area: str | None, lat: float | None, lon: float | None
) -> list[str]:
    assert query.area is not None
    if lat is None or lon is None:
        return _area_traits(query.area, area)
    point_cell = encode(round(lat * 1e7), round(lon * 1e7), len(query.area))
    traits = _area_traits(query.area, point_cell)
    center_lat, center_lon = decode(query.area).center
    if _distance_m(center_lat, center_lon, lat, lon) <= query.radius_m:
        traits.append("within_radius")
    return traits
