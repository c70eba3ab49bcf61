"""What the query benchmark's records draw from: countries and their cities (with
agencies), categories and technologies with their weights, and the vocabulary of
summaries. ``bench/querygen.py`` samples them; nothing here is random but a chapter's
home country, which is fixed by its index.
"""

import random
from dataclasses import dataclass
from typing import get_args

from protocol.kinds import IncidentCategory, TechnologyType

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
