"""Build the map's country outlines from Natural Earth, as the npm package world-atlas ships them.

    python deploy/outlines.py            # fetch world-atlas with `npm pack`, rebuild, check
    python deploy/outlines.py --check    # only check the shipped files against the manifest

The public site's basemap (docs/site.md) is Natural Earth's country outlines
(public domain), from the TopoJSON files of the npm package ``world-atlas``
at the version pinned below. ``npm pack`` fetches the package's tarball into a
temporary directory (nothing is installed); its sha256 must equal the pinned
one, so a re-run builds the same bytes or fails. Each level of detail becomes a
GeoJSON FeatureCollection under ``node/web/static/outlines/``: one MultiPolygon
per country (``name``, ISO 3166-1 numeric ``id`` and alpha-2 ``iso_a2`` as
properties; the alpha-2 code from ``pycountry``, of the test extra), lon/lat
rounded to :data:`DECIMALS` places. Each shared border (a TopoJSON arc) is
simplified once with Douglas-Peucker, so neighbours still meet. The server
draws the no-script map from these files (node/web/outlines.py) and the
script map loads the same file as a GeoJSON source, so both show one basemap.

``manifest.json`` beside them records the source package, its version and
tarball sha256, and each output's sha256; tests/test_outlines.py checks the
files against it.
"""

import argparse
import hashlib
import json
import math
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

PACKAGE: Final = "world-atlas"
VERSION: Final = "2.0.2"
TARBALL_SHA256: Final = "032e7765f2ce00edaeafec23ff22bc3b77e42987c257da944cc585b452c05b97"
OUT: Final = Path(__file__).resolve().parent.parent / "node" / "web" / "static" / "outlines"
DECIMALS: Final = 3
# (output name, the package's file, Douglas-Peucker tolerance in degrees):
# the whole world at low zooms, and a finer file for a region or a country.
LEVELS: Final = (
    ("outlines-110m.json", "countries-110m.json", 0.0),
    ("outlines-50m.json", "countries-50m.json", 0.02),
)

# Natural Earth's places without an ISO numeric code, and the alpha-2 code records use
# for where they are (Kosovo's is the user-assigned XK that most datasets share).
UNCODED: Final = {"Kosovo": "XK", "N. Cyprus": "CY", "Somaliland": "SO"}

Point = tuple[float, float]


def fetch(workdir: Path) -> Path:
    """The package's tarball, fetched by npm into ``workdir`` and checked by sha256."""
    command = ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent", "--pack-destination"]
    # npm from PATH, as the operator runs it; the arguments are fixed.
    subprocess.run([*command, str(workdir)], check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    tarball = workdir / f"{PACKAGE}-{VERSION}.tgz"
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    if digest != TARBALL_SHA256:
        sys.exit(f"{tarball.name}: sha256 {digest}, expected {TARBALL_SHA256}")
    return tarball


def decode_arcs(topology: dict[str, Any]) -> list[list[Point]]:
    """The topology's arcs as lon/lat points (quantized, delta-encoded in the file)."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def simplify(points: list[Point], tolerance: float) -> list[Point]:
    """Douglas-Peucker, keeping both ends (an arc's ends are where borders meet)."""
    if tolerance <= 0 or len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        norm = (dx * dx + dy * dy) ** 0.5
        worst, worst_at = 0.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            if norm == 0:
                distance = ((px - x1) ** 2 + (py - y1) ** 2) ** 0.5
            else:
                distance = abs(dy * px - dx * py + x2 * y1 - y2 * x1) / norm
            if distance > worst:
                worst, worst_at = distance, i
        if worst > tolerance:
            keep[worst_at] = True
            stack += [(first, worst_at), (worst_at, last)]
    return [point for point, kept in zip(points, keep, strict=True) if kept]


def ring(arcs: list[list[Point]], indexes: Sequence[int]) -> list[list[float]]:
    """One ring from arc indexes (``~i`` is arc i reversed), rounded; consecutive
    duplicates dropped."""
    points: list[Point] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    rounded: list[list[float]] = []
    for lon, lat in points:
        point = [round(lon, DECIMALS), round(lat, DECIMALS)]
        if not rounded or rounded[-1] != point:
            rounded.append(point)
    return rounded


def split_at_antimeridian(ring: list[list[float]]) -> list[list[list[float]]]:
    """A ring that jumps from one side of the antimeridian to the other, as rings that do
    not (Natural Earth cuts Fiji, Chukotka and Antarctica there; a flat drawing would
    join the two sides by a line across the world). A ring around a pole (an odd number
    of jumps) runs along the pole's edge instead; otherwise each stretch between two
    jumps becomes a ring of its own, closed along the antimeridian."""
    points = ring[:-1]
    count = len(points)
    jumps = [i for i in range(count) if abs(points[i][0] - points[(i + 1) % count][0]) > 180]
    if not jumps:
        return [ring]
    if len(jumps) % 2 == 1:
        pole = -90.0 if sum(lat for _, lat in points) < 0 else 90.0
        out: list[list[float]] = []
        for i, point in enumerate(points):
            out.append(point)
            if i in jumps:
                following = points[(i + 1) % count]
                out += [
                    [math.copysign(180, point[0]), pole],
                    [math.copysign(180, following[0]), pole],
                ]
        return [[*out, out[0]]]
    pieces = []
    for start, end in zip(jumps, [*jumps[1:], jumps[0] + count], strict=True):
        piece = [points[(i + 1) % count] for i in range(start, end)]
        if len(piece) >= 3:
            pieces.append([*piece, piece[0]])
    return pieces


def features(topology: dict[str, Any], tolerance: float) -> list[dict[str, Any]]:
    arcs = [simplify(arc, tolerance) for arc in decode_arcs(topology)]
    out = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        if geometry["type"] == "Polygon":
            polygons = [geometry["arcs"]]
        elif geometry["type"] == "MultiPolygon":
            polygons = geometry["arcs"]
        else:
            continue
        coordinates = []
        for polygon in polygons:
            rings = [ring(arcs, indexes) for indexes in polygon]
            rings = [r for r in rings if len(r) >= 4]  # a closed ring has 4 points or more
            if not rings:
                continue
            outer = split_at_antimeridian(rings[0])
            if len(outer) == 1:
                coordinates.append([outer[0], *rings[1:]])
            else:  # no hole lies across the antimeridian in Natural Earth
                coordinates += [[piece] for piece in outer]
        if coordinates:
            numeric = str(geometry.get("id", ""))
            name = geometry.get("properties", {}).get("name", "")
            properties = {
                "name": name,
                "id": numeric,
                "iso_a2": _alpha_2(numeric) or UNCODED.get(name, ""),
            }
            out.append(
                {
                    "type": "Feature",
                    "properties": properties,
                    "geometry": {"type": "MultiPolygon", "coordinates": coordinates},
                }
            )
    return out


def _alpha_2(numeric: str) -> str:
    """The ISO 3166-1 alpha-2 code of a numeric one ('' for places without one, such as
    Kosovo or Northern Cyprus): the code chapters and records name countries by."""
    import pycountry  # the test extra's; only this build script needs it

    country = pycountry.countries.get(numeric=numeric) if numeric.isdigit() else None
    return country.alpha_2 if country is not None else ""


def build(tarball: Path) -> dict[str, Any]:
    OUT.mkdir(parents=True, exist_ok=True)
    files = {}
    with tarfile.open(tarball) as archive:
        for name, source, tolerance in LEVELS:
            member = archive.extractfile(f"package/{source}")
            assert member is not None
            topology = json.load(member)
            collection = {"type": "FeatureCollection", "features": features(topology, tolerance)}
            data = json.dumps(collection, separators=(",", ":")).encode()
            (OUT / name).write_bytes(data)
            files[name] = {
                "source": source,
                "tolerance_degrees": tolerance,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
    manifest = {
        "about": "Natural Earth country outlines (public domain), built by deploy/outlines.py",
        "package": PACKAGE,
        "version": VERSION,
        "tarball_sha256": TARBALL_SHA256,
        "license": "ISC (world-atlas); Natural Earth data: public domain",
        "files": files,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def check() -> list[str]:
    """What differs between the shipped files and the manifest (empty: all good)."""
    manifest = json.loads((OUT / "manifest.json").read_text())
    problems = []
    for name, entry in manifest["files"].items():
        path = OUT / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            problems.append(f"{name}: sha256 differs from manifest.json")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check the shipped files")
    args = parser.parse_args()
    if not args.check:
        with tempfile.TemporaryDirectory() as workdir:
            manifest = build(fetch(Path(workdir)))
        for name, entry in manifest["files"].items():
            print(f"{name}: {entry['bytes']} bytes")
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
