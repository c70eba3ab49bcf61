"""Export writers: CSV with an HXL row, GeoJSON, NDJSON and the signed bundle.

Each writer yields ``bytes`` chunks of about :data:`CHUNK_BYTES`, holding
only a page of records and the chunk being filled, so an export of any size
runs in constant memory. The records come in already filtered (by
:mod:`storage.queries`). CSV and GeoJSON hold one kind of record and read
pages of :data:`storage.queries.BodyRow` (id, origin, audience, created time
and body straight from their columns: no envelope is decoded, and bodies,
checked when they were stored, are decoded without checking them again),
which leaves out erased records, which have no body left to show. NDJSON and
the bundle take stored records and carry every record they are given, erased
ones included.

CSV and GeoJSON share one flattening of each kind's body into named columns
(:mod:`node.exports.columns`), each with its HXL hashtag; the CSV text itself
is written by :mod:`node.exports.csvtext`, at export speed, and an incident's or a
deployment's whole line by :mod:`node.exports.csvlines`.
"""

import json
import operator
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from node.exports.campaigncolumns import CAMPAIGN_COLUMNS
from node.exports.columns import export_fields, stored_body
from node.exports.csvlines import csv_chunks
from node.exports.csvtext import CHUNK_BYTES
from node.views import record_view
from protocol.bundle import encode_header, encode_trailer
from protocol.geohash import decode as decode_geohash
from storage.filters import QueryFilter
from storage.queries import BodyRow, RecordQueries
from storage.stored import StoredRecord

_AUDIENCE: Final = operator.itemgetter(3)  # a BodyRow's audience
EXPORT_KINDS: Final = ("incident", "deployment", *CAMPAIGN_COLUMNS)
# The kinds with a place on a map, which GeoJSON needs.
GEOJSON_KINDS: Final = ("incident", "deployment")


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


def geojson_feature(kind: str, row: BodyRow, body: dict[str, Any]) -> dict[str, Any]:
    """One record as an RFC 7946 Feature; properties are its flattened columns."""
    properties = export_fields(kind, row, body)
    properties["kind"] = kind
    properties["created_ms"] = row[4]
    if kind == "deployment":
        properties["lat"], properties["lon"] = body["lat_e7"] / 1e7, body["lon_e7"] / 1e7
    return {
        "type": "Feature",
        "id": properties["id"],
        "geometry": _geometry(kind, body),
        "properties": properties,
    }


async def geojson_chunks(
    pages: AsyncIterable[Sequence[BodyRow]], kind: str
) -> AsyncIterator[bytes]:
    """A FeatureCollection, written as its opening, comma-separated features and close."""
    chunks = _Chunks(b'{"type":"FeatureCollection","features":[')
    separator = b"\n"
    async for page in pages:
        for row in page:
            feature = geojson_feature(kind, row, stored_body(row[5]))
            text = json.dumps(feature, ensure_ascii=False, separators=(",", ":"))
            if (pending := chunks.add(separator + text.encode())) is not None:
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


@dataclass
class CurrentRecords:
    """The current records a filter selects, read as an export needs them, counted by
    audience as they are handed out (for the CLI's summary)."""

    queries: RecordQueries
    where: QueryFilter
    audiences: Counter[str] = field(default_factory=Counter)

    async def records(self) -> AsyncIterator[StoredRecord]:
        async for row in self.queries.iterate(self.where):
            self.audiences[row.record.envelope.audience] += 1
            yield row.record

    async def body_pages(self) -> AsyncIterator[list[BodyRow]]:
        async for page in self.queries.body_pages(self.where):
            self.audiences.update(map(_AUDIENCE, page))
            yield page


def export_chunks(
    export_format: ExportFormat,
    source: CurrentRecords,
    *,
    network_id: str,
    created_ms: int,
) -> AsyncIterator[bytes]:
    """The chunks of ``source`` in ``export_format``: what the API and the CLI write.
    CSV and GeoJSON read bodies and query columns only, in pages."""
    match export_format.name:
        case "csv":
            return csv_chunks(source.body_pages(), source.where.kind)
        case "geojson":
            return geojson_chunks(source.body_pages(), source.where.kind)
        case "ndjson":
            return ndjson_chunks(source.records())
        case _:
            return bundle_chunks(source.records(), network_id, created_ms)
