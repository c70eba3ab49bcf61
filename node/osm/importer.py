"""Publishing the cameras of an OSM extract as this node's deployment records.

Each surveillance object read (:mod:`node.osm.elements`) is one of:

- **outside**: placed outside the import's bounds (a bbox or a geohash cell);
- **unplaced**: a way whose nodes the file does not hold;
- **unchanged**: this node already published that object at that version (or a
  later one), or the file repeats it;
- **another chapter's**: another origin already published that object from OSM,
  in the import's audience or a wider one: publishing it again would put the
  same camera on the map twice (that chapter keeps its own up to date);
- **updated**: this node published an earlier version: the new record
  ``supersedes`` it, keeping the chapter's own judgement (``status`` and
  ``frt_capability``, which OSM does not carry), in the import's audience or
  the earlier version's when that is wider (docs/protocol.md, section 7.3: a
  narrower version would leave the earlier one where it went);
- **new**: published for the first time.

What this node and the others already published from OSM is read once, from
the current deployments' sources (:func:`node.osm.tags.osm_origin`). New and updated
records are published in batches through :func:`node.publishing.publish_many`:
one transaction per batch, published (validated, signed by a second process,
stored: :mod:`node.osm.signer`) while the next batch is read. A dry run counts
and publishes nothing.
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from node.exports.columns import stored_body
from node.osm.elements import Camera
from node.osm.tags import deployment_body, osm_origin, record_tags
from protocol.envelope import AUDIENCES
from storage.filters import QueryFilter
from storage.queries import RecordQueries

# (min_lat_e7, min_lon_e7, max_lat_e7, max_lon_e7), as storage.filters.QueryFilter.bbox;
# min_lon > max_lon crosses the antimeridian.
Bounds = tuple[int, int, int, int]
# Publishes a batch of deployment bodies to an audience (all or none).
Publish = Callable[[str, list[dict[str, Any]]], Awaitable[object]]
# Narrowest first (docs/protocol.md, section 7.3).
_WIDTH = {"coordinators": 0, "network": 1, "public": 2}
BATCH = 1000
PROGRESS_EVERY = 1000  # objects read
# Reading the extract is Python on the event loop's thread: it lets the batch being
# published go on (its signatures back from the signing process, its transaction to the
# writer's thread) this often, so that publishing overlaps reading the next batch.
YIELD_EVERY = 50  # objects read


@dataclass(frozen=True, slots=True)
class Held:
    """A deployment this node published from OSM, still current."""

    version: int
    record_id: str
    audience: str
    status: Any
    frt_capability: Any


@dataclass(slots=True)
class ImportCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    elsewhere: int = 0
    outside: int = 0
    unplaced: int = 0
    # Tags the record format cannot hold (see node.osm.tags.record_tags), over all objects.
    tags_left_out: int = 0
    read: int = field(default=0)

    def summary(self) -> str:
        return (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.elsewhere} another chapter's, {self.outside} outside, "
            f"{self.unplaced} without a place"
        )


@dataclass(slots=True)
class Imported:
    """What the node holds from OSM: its own current records, by OSM object, and the
    widest audience another origin published each object in."""

    ours: dict[str, Held] = field(default_factory=dict)
    elsewhere: dict[str, str] = field(default_factory=dict)


async def held_imports(queries: RecordQueries, origin: bytes) -> Imported:
    """The current deployments that came from OSM, this node's and the others'."""
    query = QueryFilter(kind="deployment", audiences=AUDIENCES)
    imported = Imported()
    async for page in queries.body_pages(query):
        for row in page:
            body = stored_body(row[5])
            if (found := osm_origin(body)) is None:
                continue
            ref, version = found
            audience = row[3]
            if row[2] != origin:
                known = imported.elsewhere.get(ref, audience)
                imported.elsewhere[ref] = max(known, audience, key=_WIDTH.__getitem__)
            elif ref not in imported.ours or imported.ours[ref].version < version:
                imported.ours[ref] = Held(
                    version, row[1].hex(), audience, body.get("status"), body.get("frt_capability")
                )
    return imported


def inside(bounds: Bounds | None, lat_e7: int, lon_e7: int) -> bool:
    if bounds is None:
        return True
    min_lat, min_lon, max_lat, max_lon = bounds
    if not min_lat <= lat_e7 <= max_lat:
        return False
    if min_lon <= max_lon:
        return min_lon <= lon_e7 <= max_lon
    return lon_e7 >= min_lon or lon_e7 <= max_lon


async def import_cameras(
    cameras: Iterable[Camera],
    imported: Imported,
    *,
    country: str,
    city: str | None,
    bounds: Bounds | None,
    audience: str,
    publish: Publish | None,
    progress: Callable[[ImportCounts], None] = lambda _: None,
    batch: int = BATCH,
) -> ImportCounts:
    """Count ``cameras`` and publish the new and updated ones (none when ``publish`` is
    None: a dry run). ``imported`` is what :func:`held_imports` found."""
    counts = ImportCounts()
    seen: set[str] = set()
    bodies: dict[str, list[dict[str, Any]]] = {name: [] for name in _WIDTH}
    pending: asyncio.Task[object] | None = None

    async def flush(to: str) -> None:
        nonlocal pending
        if pending is not None:
            await pending
            pending = None
        if bodies[to] and publish is not None:
            pending = asyncio.ensure_future(publish(to, bodies[to]))
        bodies[to] = []
        progress(counts)

    try:
        for camera in cameras:
            counts.read += 1
            if counts.read % YIELD_EVERY == 0:
                await asyncio.sleep(0)
                if counts.read % PROGRESS_EVERY == 0:
                    progress(counts)
            if camera.lat_e7 is None or camera.lon_e7 is None:
                counts.unplaced += 1
                continue
            if not inside(bounds, camera.lat_e7, camera.lon_e7):
                counts.outside += 1
                continue
            before = imported.ours.get(camera.ref)
            if camera.ref in seen or (before is not None and before.version >= camera.version):
                counts.unchanged += 1
                continue
            theirs = imported.elsewhere.get(camera.ref)
            if before is None and theirs is not None and _WIDTH[theirs] >= _WIDTH[audience]:
                counts.elsewhere += 1
                continue
            seen.add(camera.ref)
            tags, left_out = record_tags(camera.tags)
            counts.tags_left_out += left_out
            body = deployment_body(camera, tags, country=country, city=city)
            to = audience
            if before is None:
                counts.new += 1
            else:
                counts.updated += 1
                to = max(audience, before.audience, key=_WIDTH.__getitem__)
                body["supersedes"] = before.record_id
                for name in ("status", "frt_capability"):
                    if getattr(before, name) is not None:
                        body[name] = getattr(before, name)
            bodies[to].append(body)
            if len(bodies[to]) >= batch:
                await flush(to)
        for name in (*_WIDTH, audience):  # the last batches, then the last one's write
            await flush(name)
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            await asyncio.wait([pending])
    return counts
