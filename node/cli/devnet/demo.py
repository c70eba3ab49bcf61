"""The dev network's demo data: a few dozen made-up records in real cities, marked as demo.

Each node gets a city (London, Madrid, Berlin, then again) and publishes, as
itself, cameras at real public places of that city with the OpenStreetMap tags
a mapper would give them, and incidents across categories, technologies and
the last months, snapped to area cells as every incident is. So a newcomer who
opens a node's home page or map sees a living network at once.

Every record says it is made up, so nobody can mistake it for documentation:
incidents start their summary with "DEMO" and carry the tag ``demo``; cameras
carry ``note=DEMO ...`` among their OSM tags and an ``operator`` starting with
"DEMO"; sources point at example.org. The nodes run on the ``banscan-dev``
network (:data:`node.config.DEMO_NETWORK`), whose signatures are valid nowhere
else, and the public site shows a "demo data" banner on every page of a node
on that network.
"""

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from protocol.geohash import encode, to_e7

DEMO_TAG: Final = "demo"
DEMO_NOTE: Final = "DEMO record made up by banscan dev-network; not a real camera"


@dataclass(frozen=True)
class DemoCity:
    name: str
    country: str
    agency: str
    # (place, latitude, longitude) of real public places, where cameras would be.
    places: tuple[tuple[str, float, float], ...]


CITIES: Final = (
    DemoCity(
        "London",
        "GB",
        "DEMO Metropolitan Police",
        (
            ("Oxford Circus", 51.5152, -0.1418),
            ("Leicester Square", 51.5103, -0.1301),
            ("Stratford station", 51.5419, -0.0033),
            ("Croydon town centre", 51.3762, -0.0982),
            ("Camden Town", 51.5390, -0.1426),
            ("Brixton", 51.4613, -0.1156),
            ("Romford market", 51.5768, 0.1801),
            ("Wembley Park", 51.5635, -0.2795),
            ("King's Cross", 51.5308, -0.1238),
            ("Westminster Bridge", 51.5007, -0.1219),
        ),
    ),
    DemoCity(
        "Madrid",
        "ES",
        "DEMO Policía Municipal",
        (
            ("Puerta del Sol", 40.4169, -3.7035),
            ("Gran Vía", 40.4200, -3.7058),
            ("Atocha", 40.4066, -3.6892),
            ("Plaza Mayor", 40.4155, -3.7074),
            ("Nuevos Ministerios", 40.4459, -3.6916),
            ("Lavapiés", 40.4088, -3.7007),
            ("Plaza de Castilla", 40.4669, -3.6886),
            ("Moncloa", 40.4350, -3.7190),
        ),
    ),
    DemoCity(
        "Berlin",
        "DE",
        "DEMO Bundespolizei",
        (
            ("Alexanderplatz", 52.5219, 13.4132),
            ("Bahnhof Südkreuz", 52.4752, 13.3654),
            ("Hauptbahnhof", 52.5251, 13.3694),
            ("Kottbusser Tor", 52.4991, 13.4179),
            ("Warschauer Straße", 52.5056, 13.4497),
            ("Hermannplatz", 52.4869, 13.4246),
        ),
    ),
)

_CAMERA_TYPES: Final = ("fixed", "dome", "panning", "fixed")
_STATUSES: Final = ("reported", "corroborated", "confirmed", "reported", "disputed", "removed")
_FRT: Final = ("confirmed", "suspected", "unknown", "suspected")
# (category, technology, what happened): summaries of made-up incidents.
_INCIDENTS: Final = (
    ("protest_surveillance", "live_frt", "Live facial recognition vans filmed a march"),
    ("stop_and_search", "live_frt", "A man was stopped after a live camera alert"),
    ("misidentification", "retrospective_frt", "A woman was wrongly matched to a suspect photo"),
    ("protest_surveillance", "live_frt", "Cameras watched people arriving at a vigil"),
    ("stop_and_search", "mobile_app", "Officers photographed passers-by with a phone app"),
    ("misidentification", "retrospective_frt", "A student was arrested on a false match"),
    ("protest_surveillance", "live_frt", "A camera van was parked at a union picket"),
    ("stop_and_search", "live_frt", "A teenager was searched after a watch-list alert"),
    ("misidentification", "retrospective_frt", "Shop footage wrongly named a shopper as a thief"),
    ("protest_surveillance", "mobile_app", "Officers scanned the faces of people at a rally"),
    ("stop_and_search", "mobile_app", "A delivery rider was stopped and photographed"),
    ("protest_surveillance", "live_frt", "Live cameras covered a climate demonstration"),
)


# How many months back each incident happened: more recently, more of them (a rising
# trend), and a node alone has months too small to show, which the figures fold.
_MONTHS_BACK: Final = (0, 0, 1, 0, 2, 1, 3, 0, 1, 2, 4, 5)


def city_for(number: int) -> DemoCity:
    """The city of dev node ``number`` (1, 2, ...)."""
    return CITIES[(number - 1) % len(CITIES)]


def _month_back(today: datetime.date, months: int) -> datetime.date:
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return datetime.date(year, month + 1, 1)


def deployments(city: DemoCity) -> Iterator[dict[str, Any]]:
    for i, (place, lat, lon) in enumerate(city.places):
        yield {
            "lat_e7": to_e7(lat),
            "lon_e7": to_e7(lon),
            "country": city.country,
            "city": city.name,
            "osm": {
                "man_made": "surveillance",
                "surveillance": "public",
                "surveillance:type": "camera",
                "surveillance:zone": "street",
                "camera:type": _CAMERA_TYPES[i % len(_CAMERA_TYPES)],
                "operator": city.agency,
                "name": f"DEMO camera, {place}",
                "note": DEMO_NOTE,
            },
            "frt_capability": {"status": _FRT[i % len(_FRT)], "basis": []},
            "observers": 1 + i % 3,
            "status": _STATUSES[i % len(_STATUSES)],
            "sources": [{"url": f"https://example.org/demo/{city.name.lower()}/camera-{i + 1}"}],
        }


def incidents(city: DemoCity, today: datetime.date) -> Iterator[dict[str, Any]]:
    # Two or three incidents share each area cell, so the map has cells it may show.
    cells = [encode(to_e7(lat), to_e7(lon), 5) for _, lat, lon in city.places[:3]]
    for i, (category, technology, what) in enumerate(_INCIDENTS):
        day = _month_back(today, _MONTHS_BACK[i]) + datetime.timedelta(days=(7 * i) % 27)
        yield {
            "occurred_on": {"date": min(day, today).isoformat(), "precision": "day"},
            "country": city.country,
            "city": city.name,
            "area": cells[i % len(cells)],
            "category": category,
            "technology": {"type": technology},
            "agency": {"name": city.agency},
            "summary": f"DEMO (made up by banscan dev-network): {what} in {city.name}.",
            "sources": [{"url": f"https://example.org/demo/{city.name.lower()}/incident-{i + 1}"}],
            "verification": {"status": ("unverified", "corroborated", "verified")[i % 3]},
            "tags": [DEMO_TAG],
        }


def demo_records(number: int, today: datetime.date) -> list[tuple[str, dict[str, Any]]]:
    """(kind, body) of every demo record dev node ``number`` publishes."""
    city = city_for(number)
    records = [("deployment", body) for body in deployments(city)]
    records += [("incident", body) for body in incidents(city, today)]
    return records
