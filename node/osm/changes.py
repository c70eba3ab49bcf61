"""Deployments chapters found, written out for OpenStreetMap mappers.

The current public deployments of a query whose sources name no OSM object
(:func:`node.osm.tags.osm_origin`: they did not come from OSM) become new
nodes, tagged as surveillance objects (:func:`node.osm.tags.export_tags`).
One within a few metres of a camera that did come from OSM is most likely
that camera, found again: it is left out (:class:`NearOsm`), so a mapper is
not asked to map it twice.

They are written:

- as an osmChange file (``.osc``), written by osmium: every node in
  ``<create>`` with a negative placeholder id, as editors such as JOSM expect
  of objects not yet uploaded;
- or as GeoJSON (RFC 7946), each camera a Point whose properties are exactly
  its OSM tags and whose feature ``id`` is the banscan record id, for tools
  that turn features into OSM objects for review (tasking tools, JOSM).

A mapper reviews them and uploads with their own account; banscan never
uploads, and nothing here opens a network connection.
"""

import itertools
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import osmium
import osmium.io
from osmium.osm.mutable import Node

from node.exports.columns import stored_body
from node.osm.tags import export_tags, osm_origin
from storage.filters import QueryFilter
from storage.queries import RecordQueries


@dataclass(frozen=True, slots=True)
class Finding:
    """A chapter's deployment, as a mapper gets it."""

    record_id: str
    lat_e7: int
    lon_e7: int
    tags: dict[str, str]


class NearOsm:
    """The cameras that came from OSM, on a grid of about 100 m, for "is there one within
    ``metres`` of here?". Distances are on the local flat approximation, good to well
    under a metre at these scales."""

    CELL_E7 = 10_000  # 0.001 degrees: 111 m of latitude, 38 m of longitude at 70 degrees
    MAX_METRES = 30.0  # so the 3 x 3 cells around a point hold every neighbour to 70 degrees

    def __init__(self, metres: float) -> None:
        self.metres = min(metres, self.MAX_METRES)
        self._cells: dict[tuple[int, int], list[tuple[int, int]]] = {}

    def add(self, lat_e7: int, lon_e7: int) -> None:
        cell = (lat_e7 // self.CELL_E7, lon_e7 // self.CELL_E7)
        self._cells.setdefault(cell, []).append((lat_e7, lon_e7))

    def near(self, lat_e7: int, lon_e7: int) -> bool:
        if self.metres <= 0:
            return False
        row, column = lat_e7 // self.CELL_E7, lon_e7 // self.CELL_E7
        squeeze = math.cos(math.radians(lat_e7 / 1e7))
        limit = (self.metres / _METRES_PER_E7) ** 2
        for cell in itertools.product((row - 1, row, row + 1), (column - 1, column, column + 1)):
            for lat, lon in self._cells.get(cell, ()):
                if (lat - lat_e7) ** 2 + ((lon - lon_e7) * squeeze) ** 2 <= limit:
                    return True
        return False


_METRES_PER_E7 = 6_371_008.8 * math.pi / 180 / 1e7  # on the mean Earth radius


async def chapter_findings(
    queries: RecordQueries, query: QueryFilter, near: NearOsm
) -> tuple[list[Finding], int]:
    """The current deployments ``query`` selects that did not come from OSM, and how many
    of them were left out as near a camera that did (``near``, filled here from every
    current deployment of ``query``'s audiences that came from OSM)."""
    everywhere = QueryFilter(kind="deployment", audiences=query.audiences)
    async for page in queries.body_pages(everywhere):
        for row in page:
            body = stored_body(row[5])
            if osm_origin(body) is not None:
                near.add(body["lat_e7"], body["lon_e7"])
    findings, left_out = [], 0
    async for page in queries.body_pages(query):
        for row in page:
            body = stored_body(row[5])
            if osm_origin(body) is not None:
                continue
            if near.near(body["lat_e7"], body["lon_e7"]):
                left_out += 1
                continue
            findings.append(
                Finding(row[1].hex(), body["lat_e7"], body["lon_e7"], export_tags(body))
            )
    return findings, left_out


def write_osmchange(findings: Iterable[Finding], path: Path) -> int:
    """Write ``findings`` to ``path`` as an osmChange file of new nodes; how many."""
    written = 0
    with osmium.SimpleWriter(osmium.io.File(str(path), "osc"), overwrite=True) as writer:
        for written, finding in enumerate(findings, start=1):
            # Version 1 puts a node in <create>; libosmium stores coordinates as 1e-7 degrees.
            location = osmium.osm.Location(finding.lon_e7 / 1e7, finding.lat_e7 / 1e7)
            writer.add_node(Node(id=-written, version=1, location=location, tags=finding.tags))
    return written


def geojson_lines(findings: Iterable[Finding]) -> Iterator[str]:
    """A FeatureCollection of ``findings``, a line at a time."""
    yield '{"type":"FeatureCollection","features":[\n'
    separator = ""
    for finding in findings:
        feature = {
            "type": "Feature",
            "id": finding.record_id,
            "geometry": {
                "type": "Point",
                "coordinates": [finding.lon_e7 / 1e7, finding.lat_e7 / 1e7],
            },
            "properties": finding.tags,
        }
        yield separator + json.dumps(feature, ensure_ascii=False, separators=(",", ":"))
        separator = ",\n"
    yield "\n]}\n"
