"""What the site benchmark requests, and how it times it.

Every request is anonymous (no ``Authorization``), as a visitor's, over one keep-alive
connection (:class:`bench.querytiming.Client` without a token). The node keeps encoded
answers of anonymous reads until the database changes (``node/reads.py``), so each group
of addresses is timed twice: **cold**, the first request of each distinct address (the
node computes it), then **warm**, the same addresses again (the node's answer cache).
Targets are judged on the cold figures; the warm ones say what a busy map gets.

The addresses: tiles at zooms 2, 6, 10 and 14 over the data set's cities (and the tiles
around them at high zooms, where the cameras spread over a few kilometres); the
clustered GeoJSON route, found in the node's OpenAPI document, over a screen-sized box
around each city; list pages with and without filters, the first page and the pages
its "next" links lead to; record pages of sampled ids.
"""

import html.parser
import json
import math
import random
import sqlite3
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.querydata import PLACES
from bench.querytiming import Client, Timing

ZOOMS = (2, 6, 10, 14)
NEIGHBOURS = {2: 0, 6: 0, 10: 1, 14: 2}  # tiles around each city's own tile, each way
OK = (200, 204)  # an empty tile may be "no content"
LIST_FILTERS = (
    ("deployments", ""),
    ("deployments", "country=GB"),
    ("deployments", "frt=confirmed&status=confirmed"),
    ("deployments", "city=London&frt=suspected"),
    ("incidents", ""),
    ("incidents", "country=US&category=protest_surveillance"),
    ("incidents", "technology=live_frt&occurred_from=2024-01-01"),
    ("incidents", "status=verified&occurred_from=2025-01-01&occurred_to=2025-12-31"),
)


def cities() -> list[tuple[float, float]]:
    return [(p.lat, p.lon) for rows, _ in PLACES.values() for p in rows]


def tile_xy(lat: float, lon: float, z: int) -> tuple[int, int]:
    """The Web Mercator tile holding a point."""
    n = 2**z
    lat_rad = math.radians(max(-85.0511, min(85.0511, lat)))
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(lat_rad)) / math.pi) / 2.0 * n)
    return min(n - 1, x), min(n - 1, y)


def tile_paths(z: int, limit: int, seed: int = 1) -> list[str]:
    """Distinct tiles over populated areas at zoom ``z``, at most ``limit``, shuffled."""
    r, n = NEIGHBOURS[z], 2**z
    tiles = set()
    for lat, lon in cities():
        x, y = tile_xy(lat, lon, z)
        for dx in range(-r, r + 1):
            for dy in range(-r, r + 1):
                if 0 <= y + dy < n:
                    tiles.add(((x + dx) % n, y + dy))
    paths = [f"/tiles/{z}/{x}/{y}.mvt" for x, y in sorted(tiles)]
    random.Random(seed).shuffle(paths)
    return paths[:limit]


def screen_bbox(lat: float, lon: float, z: int) -> str:
    """The box a 1280 x 800 screen shows at zoom ``z`` around a point (degrees)."""
    width = min(359.0, 1280 / 256 * 360 / 2**z)
    height = min(170.0, width * 800 / 1280 * math.cos(math.radians(lat)))
    west, east = max(-180.0, lon - width / 2), min(180.0, lon + width / 2)
    south, north = max(-85.0, lat - height / 2), min(85.0, lat + height / 2)
    return f"{west:.5f},{south:.5f},{east:.5f},{north:.5f}"


def cluster_route(client: Client) -> tuple[str, set[str]] | None:
    """The clustered GeoJSON route the node documents, and its query parameters."""
    status, body = client.get("/api/v1/openapi.json")
    if status != 200:
        return None
    for path, methods in json.loads(body).get("paths", {}).items():
        if "{" in path or path.startswith("/api/v1/export"):
            continue
        if any(word in path.lower() for word in ("cluster", "geojson", "points")):
            get = methods.get("get", {})
            return path, {p["name"] for p in get.get("parameters", []) if p.get("in") == "query"}
    return None


def cluster_paths(route: str, params: set[str], z: int, limit: int) -> list[str]:
    """Addresses of the clustered GeoJSON route for screens around the cities at ``z``."""
    zoom = next((name for name in ("zoom", "z") if name in params), None)
    paths = []
    for lat, lon in cities()[:limit]:
        query = {"bbox": screen_bbox(lat, lon, z)} if "bbox" in params else {}
        if zoom:
            query[zoom] = str(z)
        paths.append(f"{route}?{urllib.parse.urlencode(query)}" if query else route)
    return list(dict.fromkeys(paths))


class _NextLinks(html.parser.HTMLParser):
    """The ``href`` of links marked ``rel="next"`` (else links with a cursor)."""

    def __init__(self) -> None:
        super().__init__()
        self.next: list[str] = []
        self.cursors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        href = values.get("href") or ""
        if tag in ("a", "link") and "next" in (values.get("rel") or "").split():
            self.next.append(href)
        elif tag == "a" and any(k in href for k in ("after=", "cursor=", "page=")):
            self.cursors.append(href)


def next_page(client: Client, path: str) -> str | None:
    """The address of the page after ``path``, from its links."""
    status, body = client.get(path)
    if status != 200:
        return None
    links = _NextLinks()
    links.feed(body.decode("utf-8", errors="replace"))
    found = links.next or links.cursors[-1:]
    return urllib.parse.urljoin(path, found[0]) if found else None


def list_paths(client: Client, depth: int) -> tuple[list[str], list[str]]:
    """First pages (with and without filters), and up to ``depth`` later pages of each."""
    first = [f"/{kind}?{query}" if query else f"/{kind}" for kind, query in LIST_FILTERS]
    later = []
    for path in first:
        page: str | None = path
        for _ in range(depth):
            page = next_page(client, page) if page else None
            if page:
                later.append(page)
    return first, later


def record_paths(db: Path, count: int) -> list[str]:
    """Pages of ``count`` current public records, half deployments, half incidents."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        paths = []
        for kind in ("deployment", "incident"):
            rows = conn.execute(
                "SELECT lower(hex(id)) FROM records WHERE kind = ? AND audience = 'public'"
                " AND rid % 997 = 0 LIMIT ?",
                (kind, count // 2),
            ).fetchall()
            paths += [f"/{kind}s/{rid}" for (rid,) in rows]
        return paths
    finally:
        conn.close()


@dataclass(frozen=True, slots=True)
class ColdWarm:
    cold: Timing
    warm: Timing
    slowest: list[tuple[float, str]]  # the slowest cold requests: seconds, address
    cpu_ms: float = 0.0  # the node's CPU time per cold request


def time_cold_warm(
    client: Client, paths: list[str], warm_passes: int, cpu: Callable[[], float] = lambda: 0.0
) -> ColdWarm:
    """Each address once (cold), then ``warm_passes`` more times each (warm); ``cpu`` tells
    the node's CPU seconds so far."""
    if not paths:
        return ColdWarm(Timing([], error="no addresses"), Timing([], error="no addresses"), [])
    timings, cpu_seconds = [], cpu()
    for passes in (1, warm_passes):
        seconds = []
        for _ in range(passes):
            for path in paths:
                began = time.perf_counter()
                status, answer = client.get(path)
                seconds.append(time.perf_counter() - began)
                if status not in OK:
                    error = (
                        "not built yet (404)"
                        if status == 404
                        else f"HTTP {status} at {path}: {answer[:200]!r}"
                    )
                    return ColdWarm(Timing([], error=error), Timing([], error=error), [])
        timings.append(Timing(seconds, len(paths)))
        cpu_seconds = cpu() - cpu_seconds if passes == 1 else cpu_seconds
    slowest = sorted(zip(timings[0].seconds, paths, strict=True), reverse=True)[:3]
    return ColdWarm(timings[0], timings[1], slowest, cpu_seconds * 1000 / len(paths))
