"""OSM objects and deployment bodies, both ways: tags, provenance and place.

A camera imported from OSM is a deployment whose ``osm`` field holds its tags
(as many as the record schema holds: keys of lowercase words joined by ``:``,
values of 1 to 255 characters, 32 at most, the surveillance ones first) and
whose one source is the OSM page of the object at that version,
``https://www.openstreetmap.org/node/123/history/4``. That source is how
banscan knows, on any node, that a deployment came from OSM and which
version: nothing else is added to the record format. Who edited the object in
OSM (user, changeset) is never copied.
"""

import datetime
import functools
import re
from typing import Any, Final

from node.osm.elements import Camera
from protocol.countries import COUNTRY_CODES

OSM_SITE: Final = "https://www.openstreetmap.org"
_SOURCE = re.compile(r"https://www\.openstreetmap\.org/(node|way)/(\d+)/history/(\d+)")
# protocol.kinds.Deployment's rules for the osm field.
_KEY = re.compile(r"[a-z_]+(:[a-z_]+)*")
MAX_KEY, MAX_VALUE, MAX_TAGS = 64, 255, 32
MAX_CITY = 200
# Kept first when an object has more tags than a record holds.
_FIRST: Final = (
    "man_made",
    "surveillance",
    "camera",
    "operator",
    "brand",
    "manufacturer",
    "model",
    "direction",
    "height",
)
_DATE_TAGS: Final = ("survey:date", "check_date")
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def source_url(camera: Camera) -> str:
    """The OSM page of the object at its version: the imported record's one source."""
    return f"{OSM_SITE}/{camera.type}/{camera.id}/history/{camera.version}"


def osm_origin(body: dict[str, Any]) -> tuple[str, int] | None:
    """``("node/123", 4)`` when a deployment body came from OSM (a source that is an OSM
    object's version page), else None: the body of a chapter's own finding."""
    for source in body.get("sources") or ():
        url = source.get("url") if isinstance(source, dict) else None
        if isinstance(url, str) and (match := _SOURCE.fullmatch(url)):
            return f"{match[1]}/{match[2]}", int(match[3])
    return None


def record_tags(tags: dict[str, str]) -> tuple[dict[str, str], int]:
    """The tags a deployment's ``osm`` field can hold, and how many others were left out."""
    fitting = [
        (key, value) for key, value in tags.items() if _fits(key) and 1 <= len(value) <= MAX_VALUE
    ]
    if len(fitting) > MAX_TAGS:
        fitting.sort(key=lambda item: not item[0].startswith(_FIRST) and "wikidata" not in item[0])
        fitting = fitting[:MAX_TAGS]
    return dict(fitting), len(tags) - len(fitting)


@functools.lru_cache(maxsize=4096)
def _fits(key: str) -> bool:
    # Cached: an extract repeats a few dozen keys over and over.
    return len(key) <= MAX_KEY and _KEY.fullmatch(key) is not None


def deployment_body(
    camera: Camera, tags: dict[str, str], *, country: str, city: str | None
) -> dict[str, Any]:
    """The body of the deployment record for ``camera`` (placed, its tags already fitted
    by :func:`record_tags`). ``country`` and ``city`` are the import's, unless the object
    names its own country (``addr:country``) or, with no ``city`` given, its city."""
    assert camera.lat_e7 is not None
    assert camera.lon_e7 is not None
    own_country = camera.tags.get("addr:country", "").upper()
    body: dict[str, Any] = {
        "lat_e7": camera.lat_e7,
        "lon_e7": camera.lon_e7,
        "country": own_country if own_country in COUNTRY_CODES else country,
    }
    place = city or camera.tags.get("addr:city")
    if place and len(place) <= MAX_CITY:
        body["city"] = place
    body["osm"] = tags
    # Given, not defaulted: pydantic copies a model default for every record it validates.
    body["frt_capability"] = {"status": "unknown"}
    if (observed := _observed_on(camera.tags)) is not None:
        body["observed_on"] = observed
    body["sources"] = [{"url": source_url(camera)}]
    return body


def _observed_on(tags: dict[str, str]) -> dict[str, str] | None:
    """When a mapper last saw it (``survey:date`` or ``check_date``), as a partial date."""
    for key in _DATE_TAGS:
        match = _DATE.fullmatch(tags.get(key, ""))
        if match is None:
            continue
        year, month, day = match[1], match[2], match[3]
        try:
            datetime.date(int(year), int(month or 1), int(day or 1))
        except ValueError:
            continue
        if day:
            return {"date": f"{year}-{month}-{day}", "precision": "day"}
        if month:
            return {"date": f"{year}-{month}-01", "precision": "month"}
        return {"date": f"{year}-01-01", "precision": "year"}
    return None


def export_tags(body: dict[str, Any]) -> dict[str, str]:
    """The OSM tags a chapter's deployment gives a mapper: its own, as a surveillance
    object (``man_made=surveillance`` unless it says otherwise)."""
    tags = {str(k): str(v) for k, v in (body.get("osm") or {}).items()}
    return {"man_made": "surveillance", **tags} if "man_made" not in tags else tags
