"""Deployments chapters found, written out for OpenStreetMap mappers.

The current public deployments of a query whose sources name no OSM object
(:func:`node.osm.tags.osm_origin`: they did not come from OSM) become new
nodes, tagged as surveillance objects (:func:`node.osm.tags.export_tags`):

- as an osmChange file (``.osc``), written by osmium: every node in
  ``<create>`` with a negative placeholder id, as editors such as JOSM expect
  of objects not yet uploaded;
- or as GeoJSON (RFC 7946), each camera a Point whose properties are exactly
  its OSM tags and whose feature ``id`` is the banscan record id, for tools
  that turn features into OSM objects for review (tasking tools, JOSM).

A mapper reviews them and uploads with their own account; banscan never
uploads, and nothing here opens a network connection.
"""

import json
from collections.abc import AsyncIterator, Iterable, Iterator
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


async def chapter_findings(queries: RecordQueries, query: QueryFilter) -> AsyncIterator[Finding]:
    """The current deployments ``query`` selects that did not come from OSM."""
    async for page in queries.body_pages(query):
        for row in page:
            body = stored_body(row[5])
            if osm_origin(body) is None:
                yield Finding(row[1].hex(), body["lat_e7"], body["lon_e7"], export_tags(body))


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
