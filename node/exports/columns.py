"""Each kind's body flattened into named columns, each with its HXL hashtag.

CSV and GeoJSON (:mod:`node.exports.formats`) share this flattening; GeoJSON
keeps lists as JSON arrays where CSV joins them. Rows are pages of
:data:`storage.queries.BodyRow`: id, origin, audience, created time and body
straight from their columns, no envelope decoded.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import msgpack

from protocol.keys import key_text
from protocol.utc import utc_text
from storage.queries import BodyRow


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    hxl: str


RECORD_COLUMNS: Final = (
    Column("id", "#meta+id"),
    Column("origin", "#meta+source"),
    Column("audience", "#meta+audience"),
    Column("created", "#date+reported"),
)
INCIDENT_COLUMNS: Final = (
    *RECORD_COLUMNS,
    Column("occurred_on", "#date+occurred"),
    Column("occurred_precision", "#date+occurred+precision"),
    Column("country", "#country+code"),
    Column("region", "#adm1+name"),
    Column("city", "#loc+name"),
    Column("area", "#geo+geohash"),
    Column("category", "#event+type"),
    Column("technology", "#event+technology"),
    Column("technology_detail", "#event+technology+detail"),
    Column("agency", "#org+name"),
    Column("agency_identifier", "#org+code"),
    Column("agency_record", "#org+id"),
    Column("summary", "#description"),
    Column("verification", "#status+verification"),
    Column("confirmations", "#indicator+confirmations+num"),
    Column("sources", "#meta+url"),
    Column("tags", "#meta+tags"),
    Column("supersedes", "#meta+supersedes"),
)
DEPLOYMENT_COLUMNS: Final = (
    *RECORD_COLUMNS,
    Column("lat", "#geo+lat"),
    Column("lon", "#geo+lon"),
    Column("country", "#country+code"),
    Column("city", "#loc+name"),
    Column("operator", "#org+name"),
    Column("agency", "#org+name+agency"),
    Column("agency_record", "#org+id"),
    Column("osm", "#meta+osm"),
    Column("frt_capability", "#status+frt"),
    Column("frt_basis", "#meta+frt_basis"),
    Column("observed_on", "#date+observed"),
    Column("observed_precision", "#date+observed+precision"),
    Column("observers", "#indicator+observers+num"),
    Column("status", "#status"),
    Column("sources", "#meta+url"),
    Column("supersedes", "#meta+supersedes"),
)
COLUMNS: Final = {"incident": INCIDENT_COLUMNS, "deployment": DEPLOYMENT_COLUMNS}


def degrees(value_e7: int) -> str:
    """Exact decimal degrees of a value in 1e-7 degrees, without trailing zeros."""
    sign = "-" if value_e7 < 0 else ""
    whole, fraction = divmod(abs(value_e7), 10**7)
    digits = f"{fraction:07d}".rstrip("0")
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"


_NO_MAP: Final[dict[str, Any]] = {}


def _sub(body: dict[str, Any], key: str) -> dict[str, Any]:
    # Stored bodies passed their kind's schema at ingest: an optional map is a map or absent.
    value: dict[str, Any] = body.get(key) or _NO_MAP
    return value


def source_urls(body: dict[str, Any]) -> list[str]:
    return [s["url"] for s in body.get("sources", ()) if "url" in s]


@functools.lru_cache(maxsize=1024)
def origin_text(origin: bytes) -> str:
    # An export holds a few chapters' records each many times over.
    return key_text(origin)


def stored_body(body: bytes) -> dict[str, Any]:
    """A stored body's map. Bodies are stored only after :func:`protocol.kinds.decode_body`
    accepted them (no repeated keys, the kind's schema), so this skips those checks."""
    value: dict[str, Any] = msgpack.unpackb(body, raw=False)
    return value


def record_values(row: BodyRow) -> list[Any]:
    _, record_id, origin, audience, created_ms, _ = row
    return [record_id.hex(), origin_text(origin), audience, utc_text(created_ms, "rfc3339")]


def incident_values(row: BodyRow, body: dict[str, Any]) -> list[Any]:
    """An incident's values in :data:`INCIDENT_COLUMNS` order; lists stay lists (CSV joins them)."""
    # Inlined rather than calling _sub and record_values: this runs once per exported row.
    occurred = body.get("occurred_on") or _NO_MAP
    technology = body.get("technology") or _NO_MAP
    agency = body.get("agency") or _NO_MAP
    verification = body.get("verification") or _NO_MAP
    _, record_id, origin, audience, created_ms, _ = row
    return [
        record_id.hex(),
        origin_text(origin),
        audience,
        utc_text(created_ms, "rfc3339"),
        occurred.get("date"),
        occurred.get("precision"),
        body.get("country"),
        body.get("region"),
        body.get("city"),
        body.get("area"),
        body.get("category"),
        technology.get("type"),
        technology.get("detail"),
        agency.get("name"),
        agency.get("identifier"),
        agency.get("record"),
        body.get("summary"),
        verification.get("status", "unverified"),
        verification.get("confirmations", 0),
        source_urls(body),
        list(body.get("tags", ())),
        body.get("supersedes"),
    ]


def deployment_values(row: BodyRow, body: dict[str, Any]) -> list[Any]:
    """A deployment's values in :data:`DEPLOYMENT_COLUMNS` order; lat and lon are exact
    decimal strings."""
    osm = _sub(body, "osm")
    capability = _sub(body, "frt_capability")
    observed = _sub(body, "observed_on")
    agency = _sub(body, "agency")
    values = record_values(row)
    values += (
        degrees(body["lat_e7"]),
        degrees(body["lon_e7"]),
        body.get("country"),
        body.get("city"),
        osm.get("operator"),
        agency.get("name"),
        agency.get("record"),
        dict(osm),
        capability.get("status", "unknown"),
        list(capability.get("basis", ())),
        observed.get("date"),
        observed.get("precision"),
        body.get("observers", 0),
        body.get("status", "reported"),
        source_urls(body),
        body.get("supersedes"),
    )
    return values


ROW_VALUES: Final[dict[str, Callable[[BodyRow, dict[str, Any]], list[Any]]]] = {
    "incident": incident_values,
    "deployment": deployment_values,
}


def export_fields(kind: str, row: BodyRow, body: dict[str, Any]) -> dict[str, Any]:
    """A record's columns by name (what GeoJSON properties hold)."""
    names = [c.name for c in COLUMNS[kind]]
    return dict(zip(names, ROW_VALUES[kind](row, body), strict=True))
