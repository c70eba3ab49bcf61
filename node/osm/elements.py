"""Surveillance objects read from an OpenStreetMap extract or an Overpass JSON answer.

An extract (``.osm``, ``.osm.pbf``, ``.osc``; compressed as osmium reads them)
is read with pyosmium, keeping the coordinates of every node so that a way's
position can be worked out; only objects tagged ``man_made=surveillance``
reach Python. An Overpass answer is the JSON that ``[out:json]`` gives; ask it
for metadata (``out meta;``, or ``out center meta;`` for ways) so every object
carries its version.

A node is placed where it is; a way at the mean of its distinct nodes (the
``center`` Overpass gives, when it gives one). Coordinates are the integer
1e-7 degrees records carry: osmium stores them so already, and Overpass's
decimal degrees are converted exactly (:func:`protocol.geohash.to_e7`).
Relations are not read: cameras are mapped as nodes and, rarely, ways.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import osmium
import osmium.filter

from protocol.geohash import to_e7

SURVEILLANCE = ("man_made", "surveillance")
ObjectType = Literal["node", "way"]


class OsmInputError(ValueError):
    """A file that cannot be read as OpenStreetMap data; the message says why."""


@dataclass(frozen=True, slots=True)
class Camera:
    """One surveillance object as OSM has it; ``lat_e7``/``lon_e7`` are None for a way
    whose nodes the file does not hold."""

    type: ObjectType
    id: int
    version: int
    lat_e7: int | None
    lon_e7: int | None
    tags: dict[str, str]

    @property
    def ref(self) -> str:
        """The object's name in OSM: ``node/123``."""
        return f"{self.type}/{self.id}"


def read_cameras(path: Path) -> Iterator[Camera]:
    """Every ``man_made=surveillance`` node and way in ``path``, in file order."""
    try:
        with path.open("rb") as probe:
            start = probe.read(64).lstrip()
    except OSError as exc:
        raise OsmInputError(f"{path}: {exc.strerror or exc}") from exc
    if start.startswith(b"{"):
        return _overpass(path)
    return _extract(path)


def _versioned(kind: str, ident: int, version: object) -> int:
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise OsmInputError(
            f"{kind}/{ident} has no version: banscan needs it to tell an OSM object's edits "
            "apart (an extract written without metadata, or an Overpass query without "
            "'out meta;')"
        )
    return version


def _extract(path: Path) -> Iterator[Camera]:
    # Gives each node its tags as a dict built in C++, three times faster than iterating
    # them from Python. Not for ways: it raises on one whose nodes the file lacks.
    node_tags = osmium.filter.GeoInterfaceFilter(drop_invalid_geometries=False)
    node_tags.enable_for(osmium.osm.NODE)
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.TagFilter(SURVEILLANCE))
        .with_filter(node_tags)
    )
    try:
        for obj in processor:
            geo = getattr(obj, "__geo_interface__", None)
            tags = geo["properties"] if geo else {tag.k: tag.v for tag in obj.tags}
            if isinstance(obj, osmium.osm.Node):
                version = _versioned("node", obj.id, obj.version)
                place = (obj.location.y, obj.location.x) if obj.location.valid() else None
                yield _camera("node", obj.id, version, place, tags)
            elif isinstance(obj, osmium.osm.Way):
                version = _versioned("way", obj.id, obj.version)
                points = [(n.location.y, n.location.x) for n in obj.nodes if n.location.valid()]
                place = _mean(points) if len(points) == len(obj.nodes) else None
                yield _camera("way", obj.id, version, place, tags)
    except RuntimeError as exc:  # libosmium's errors: an unknown format, a damaged file
        raise OsmInputError(f"{path}: not an OSM file osmium can read ({exc})") from exc


def _overpass(path: Path) -> Iterator[Camera]:
    try:
        answer = json.loads(path.read_bytes())
        elements = answer["elements"]
        if not isinstance(elements, list):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OsmInputError(f"{path}: not an Overpass JSON answer (no elements list)") from exc
    nodes: dict[int, tuple[int, int]] = {}
    for element in elements:
        if not isinstance(element, dict) or element.get("type") != "node":
            continue
        if isinstance(ident := element.get("id"), int) and (place := _point(element)):
            nodes[ident] = place
    for element in elements:
        if not isinstance(element, dict) or element.get("type") not in ("node", "way"):
            continue
        tags = element.get("tags") or {}
        if not isinstance(tags, dict) or tags.get(SURVEILLANCE[0]) != SURVEILLANCE[1]:
            continue
        kind: ObjectType = element["type"]
        ident = element.get("id")
        if not isinstance(ident, int) or isinstance(ident, bool):
            raise OsmInputError(f"{path}: a {kind} without an integer id")
        version = _versioned(kind, ident, element.get("version"))
        place = _point(element) if kind == "node" else _way_place(element, nodes)
        yield _camera(kind, ident, version, place, {str(k): str(v) for k, v in tags.items()})


def _point(element: dict[str, Any]) -> tuple[int, int] | None:
    """An Overpass position; None unless both are numbers on the globe."""
    lat, lon = element.get("lat"), element.get("lon")
    if isinstance(lat, bool) or not isinstance(lat, int | float):
        return None
    if isinstance(lon, bool) or not isinstance(lon, int | float):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):  # also refuses NaN
        return None
    return to_e7(lat), to_e7(lon)


def _way_place(
    element: dict[str, Any], nodes: dict[int, tuple[int, int]]
) -> tuple[int, int] | None:
    if isinstance(center := element.get("center"), dict):
        return _point(center)
    if isinstance(geometry := element.get("geometry"), list):
        points = [p for g in geometry if isinstance(g, dict) and (p := _point(g)) is not None]
    else:
        refs = element.get("nodes")
        if not isinstance(refs, list) or not all(isinstance(ref, int) for ref in refs):
            return None
        points = [nodes[ref] for ref in refs if ref in nodes]
        if len(points) != len(refs):
            return None
    return _mean(points)


def _mean(points: Iterable[tuple[int, int]]) -> tuple[int, int] | None:
    """The mean of a way's distinct points (a closed way repeats its first one)."""
    distinct = list(dict.fromkeys(points))
    if not distinct:
        return None
    lat = sum(p[0] for p in distinct)
    lon = sum(p[1] for p in distinct)
    return round(lat / len(distinct)), round(lon / len(distinct))


def _camera(
    kind: ObjectType, ident: int, version: int, place: tuple[int, int] | None, tags: dict[str, str]
) -> Camera:
    lat, lon = place if place is not None else (None, None)
    return Camera(kind, ident, version, lat, lon, tags)
