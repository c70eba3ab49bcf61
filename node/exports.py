"""Export writers: CSV with an HXL row, GeoJSON, NDJSON and the signed bundle.

Each writer takes an async iterator of stored records and yields ``bytes``
chunks of about :data:`CHUNK_BYTES`, holding only the record in hand and the
chunk being filled, so an export of any size runs in constant memory. The
records come in already filtered (by :mod:`storage.queries`); a writer skips
only what it cannot show: CSV and GeoJSON hold one kind of record and leave out
erased ones, which have no body left to show. NDJSON and the bundle carry every
record they are given, erased ones included.

CSV and GeoJSON share one flattening of each kind's body into named columns
(:data:`INCIDENT_COLUMNS`, :data:`DEPLOYMENT_COLUMNS`), each with its HXL
hashtag; GeoJSON keeps lists as JSON arrays where CSV joins them.
"""

import csv
import functools
import io
import json
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final

from node.views import record_view
from protocol.bundle import encode_header, encode_trailer
from protocol.geohash import decode as decode_geohash
from protocol.keys import key_text
from protocol.kinds import decode_body_map
from storage.queries import QueryFilter, RecordQueries
from storage.records import StoredRecord

CHUNK_BYTES: Final = 1 << 16
EXPORT_KINDS: Final = ("incident", "deployment")


@dataclass(frozen=True, slots=True)
class ExportFormat:
    name: str
    media_type: str
    extension: str


FORMATS: Final = {
    f.name: f
    for f in (
        ExportFormat("csv", "text/csv; charset=utf-8", "csv"),
        ExportFormat("geojson", "application/geo+json", "geojson"),
        ExportFormat("ndjson", "application/x-ndjson", "ndjson"),
        ExportFormat("bundle", "application/vnd.banscan.bundle+msgpack", "bundle"),
    )
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    hxl: str


_RECORD_COLUMNS: Final = (
    Column("id", "#meta+id"),
    Column("origin", "#meta+source"),
    Column("audience", "#meta+audience"),
    Column("created", "#date+reported"),
)
INCIDENT_COLUMNS: Final = (
    *_RECORD_COLUMNS,
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
    Column("summary", "#description"),
    Column("verification", "#status+verification"),
    Column("confirmations", "#indicator+confirmations+num"),
    Column("sources", "#meta+url"),
    Column("tags", "#meta+tags"),
    Column("supersedes", "#meta+supersedes"),
)
DEPLOYMENT_COLUMNS: Final = (
    *_RECORD_COLUMNS,
    Column("lat", "#geo+lat"),
    Column("lon", "#geo+lon"),
    Column("country", "#country+code"),
    Column("city", "#loc+name"),
    Column("operator", "#org+name"),
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
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS: Final = frozenset({"=", "+", "-", "@", "\t", "\r"})
_NUMERIC: Final = frozenset({"lat", "lon"})


def degrees(value_e7: int) -> str:
    """Exact decimal degrees of a value in 1e-7 degrees, without trailing zeros."""
    sign = "-" if value_e7 < 0 else ""
    whole, fraction = divmod(abs(value_e7), 10**7)
    digits = f"{fraction:07d}".rstrip("0")
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"


def _created(created_ms: int) -> str:
    seconds, millis = divmod(created_ms, 1000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{millis:03d}Z"


def _sub(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    return value if isinstance(value, dict) else {}


def _source_urls(body: dict[str, Any]) -> list[str]:
    return [s["url"] for s in body.get("sources", []) if isinstance(s, dict) and "url" in s]


@functools.lru_cache(maxsize=1024)
def _origin_text(origin: bytes) -> str:
    # An export holds a few chapters' records each many times over.
    return key_text(origin)


def _record_fields(record: StoredRecord) -> dict[str, Any]:
    env = record.envelope
    return {
        "id": record.id.hex(),
        "origin": _origin_text(env.origin),
        "audience": env.audience,
        "created": _created(env.created_ms),
    }


def incident_fields(record: StoredRecord, body: dict[str, Any]) -> dict[str, Any]:
    """An incident's columns; lists stay lists (CSV joins them)."""
    occurred = _sub(body, "occurred_on")
    technology = _sub(body, "technology")
    agency = _sub(body, "agency")
    verification = _sub(body, "verification")
    return {
        **_record_fields(record),
        "occurred_on": occurred.get("date"),
        "occurred_precision": occurred.get("precision"),
        "country": body.get("country"),
        "region": body.get("region"),
        "city": body.get("city"),
        "area": body.get("area"),
        "category": body.get("category"),
        "technology": technology.get("type"),
        "technology_detail": technology.get("detail"),
        "agency": agency.get("name"),
        "agency_identifier": agency.get("identifier"),
        "summary": body.get("summary"),
        "verification": verification.get("status", "unverified"),
        "confirmations": verification.get("confirmations", 0),
        "sources": _source_urls(body),
        "tags": list(body.get("tags", [])),
        "supersedes": body.get("supersedes"),
    }


def deployment_fields(record: StoredRecord, body: dict[str, Any]) -> dict[str, Any]:
    """A deployment's columns; lat and lon are exact decimal strings."""
    osm = _sub(body, "osm")
    capability = _sub(body, "frt_capability")
    observed = _sub(body, "observed_on")
    return {
        **_record_fields(record),
        "lat": degrees(body["lat_e7"]),
        "lon": degrees(body["lon_e7"]),
        "country": body.get("country"),
        "city": body.get("city"),
        "operator": osm.get("operator"),
        "osm": dict(osm),
        "frt_capability": capability.get("status", "unknown"),
        "frt_basis": list(capability.get("basis", [])),
        "observed_on": observed.get("date"),
        "observed_precision": observed.get("precision"),
        "observers": body.get("observers", 0),
        "status": body.get("status", "reported"),
        "sources": _source_urls(body),
        "supersedes": body.get("supersedes"),
    }


_FIELDS: Final[dict[str, Callable[[StoredRecord, dict[str, Any]], dict[str, Any]]]] = {
    "incident": incident_fields,
    "deployment": deployment_fields,
}


async def _bodies(
    records: AsyncIterable[StoredRecord], kind: str
) -> AsyncIterator[tuple[StoredRecord, dict[str, Any]]]:
    """The records of ``kind`` that still have a body, with the body decoded."""
    async for record in records:
        if record.envelope.kind == kind and record.body is not None:
            yield record, decode_body_map(record.body)


def _csv_cell(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif value is None:
        return ""
    elif isinstance(value, list):
        text = " ".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = ";".join(f"{k}={v}" for k, v in value.items())
    else:
        return str(value)  # a count: never negative
    # Free text from reports must not run as a formula when the file is opened.
    return "'" + text if text[:1] in _FORMULA_STARTS else text


class _Chunks:
    """Collects small writes and hands them out as chunks of about CHUNK_BYTES."""

    def __init__(self, opening: bytes = b"") -> None:
        self._parts: list[bytes] = [opening]
        self._size = len(opening)

    def add(self, data: bytes) -> bytes | None:
        """Add ``data``; a full chunk to send, when there is one."""
        self._parts.append(data)
        self._size += len(data)
        return self._take() if self._size >= CHUNK_BYTES else None

    def last(self, closing: bytes = b"") -> bytes:
        """Everything not yet handed out, ending with ``closing``."""
        self._parts.append(closing)
        return self._take()

    def _take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        return data


async def csv_chunks(records: AsyncIterable[StoredRecord], kind: str) -> AsyncIterator[bytes]:
    """CSV of one kind: a header row, the HXL hashtag row, then a row per record."""
    columns = COLUMNS[kind]
    fields = _FIELDS[kind]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([c.name for c in columns])
    writer.writerow([c.hxl for c in columns])
    async for record, body in _bodies(records, kind):
        row = fields(record, body)
        # lat and lon are exact decimals that may start with "-": not formulas.
        writer.writerow(
            [row[c.name] if c.name in _NUMERIC else _csv_cell(row[c.name]) for c in columns]
        )
        if text.tell() >= CHUNK_BYTES:
            yield _drain(text)
    yield _drain(text)


def _drain(text: io.StringIO) -> bytes:
    value = text.getvalue()
    text.seek(0)
    text.truncate()
    return value.encode()


def cell_ring(area: str) -> list[list[float]]:
    """A geohash cell as a closed, counter-clockwise GeoJSON ring of [lon, lat]."""
    cell = decode_geohash(area)
    south, west = round(cell.south, 7), round(cell.west, 7)
    north, east = round(cell.north, 7), round(cell.east, 7)
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def _geometry(kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
    if kind == "deployment":
        # n / 1e7 is the float nearest the exact value, printed with at most 7 decimals.
        return {"type": "Point", "coordinates": [body["lon_e7"] / 1e7, body["lat_e7"] / 1e7]}
    area = body.get("area")
    return {"type": "Polygon", "coordinates": [cell_ring(area)]} if area else None


def geojson_feature(record: StoredRecord, body: dict[str, Any]) -> dict[str, Any]:
    """One record as an RFC 7946 Feature; properties are its flattened columns."""
    kind = record.envelope.kind
    properties = _FIELDS[kind](record, body)
    properties["kind"] = kind
    properties["created_ms"] = record.envelope.created_ms
    if kind == "deployment":
        properties["lat"], properties["lon"] = body["lat_e7"] / 1e7, body["lon_e7"] / 1e7
    return {
        "type": "Feature",
        "id": properties["id"],
        "geometry": _geometry(kind, body),
        "properties": properties,
    }


async def geojson_chunks(records: AsyncIterable[StoredRecord], kind: str) -> AsyncIterator[bytes]:
    """A FeatureCollection, written as its opening, comma-separated features and close."""
    chunks = _Chunks(b'{"type":"FeatureCollection","features":[')
    separator = b"\n"
    async for record, body in _bodies(records, kind):
        feature = json.dumps(
            geojson_feature(record, body), ensure_ascii=False, separators=(",", ":")
        )
        if (pending := chunks.add(separator + feature.encode())) is not None:
            yield pending
        separator = b",\n"
    yield chunks.last(b"\n]}\n")


async def ndjson_chunks(records: AsyncIterable[StoredRecord]) -> AsyncIterator[bytes]:
    """One JSON record view per line, the same view ``GET /api/v1/records/{id}`` serves."""
    chunks = _Chunks()
    async for record in records:
        view = record_view(
            record.envelope, record.envelope_bytes, record.signature, record.body, record.id
        )
        line = json.dumps(view, ensure_ascii=False, separators=(",", ":")) + "\n"
        if (chunk := chunks.add(line.encode())) is not None:
            yield chunk
    if rest := chunks.last():
        yield rest


async def bundle_chunks(
    records: AsyncIterable[StoredRecord], network_id: str, created_ms: int
) -> AsyncIterator[bytes]:
    """A signed-record bundle (the format of :mod:`protocol.bundle`)."""
    chunks = _Chunks(encode_header(network_id, created_ms))
    count = 0
    async for record in records:
        count += 1
        if (chunk := chunks.add(record.signed().encode())) is not None:
            yield chunk
    yield chunks.last(encode_trailer(count))


def export_chunks(
    export_format: ExportFormat,
    kind: str,
    records: AsyncIterable[StoredRecord],
    *,
    network_id: str,
    created_ms: int,
) -> AsyncIterator[bytes]:
    """The chunks of ``records`` in ``export_format``: what the API and the CLI write."""
    match export_format.name:
        case "csv":
            return csv_chunks(records, kind)
        case "geojson":
            return geojson_chunks(records, kind)
        case "ndjson":
            return ndjson_chunks(records)
        case _:
            return bundle_chunks(records, network_id, created_ms)


async def current_records(
    queries: RecordQueries, where: QueryFilter
) -> AsyncIterator[StoredRecord]:
    """The current records ``where`` selects, streamed."""
    async for row in queries.iterate(where):
        yield row.record
