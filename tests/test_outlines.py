"""The shipped country outlines match their manifest, and the no-script map's geometry:
views, zoom and pan links, the outline path drawn for a view."""

import hashlib
import itertools
import json
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy import outlines as build
from node.problems import BadParameter
from node.web.mapview import HEIGHT, MIN_SPAN, WIDTH, MapView, parse_bbox, view_of
from node.web.outlines import LEVELS, OUTLINES, SCRIPT_OUTLINES, clip, outline_path

MANIFEST = json.loads((OUTLINES / "manifest.json").read_text())


def test_the_outlines_are_what_the_manifest_says() -> None:
    assert MANIFEST["package"] == build.PACKAGE == "world-atlas"
    assert MANIFEST["version"] == build.VERSION
    assert MANIFEST["tarball_sha256"] == build.TARBALL_SHA256
    shipped = {path.name for path in OUTLINES.iterdir()} - {"manifest.json"}
    assert shipped == set(MANIFEST["files"])
    for name, entry in MANIFEST["files"].items():
        data = (OUTLINES / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert len(data) == entry["bytes"]
    assert build.check() == []
    assert {name for name, _ in LEVELS} <= set(MANIFEST["files"])
    assert SCRIPT_OUTLINES.removeprefix("outlines/") in MANIFEST["files"]


def test_the_outlines_are_geojson_with_country_codes() -> None:
    collection = json.loads((OUTLINES / "outlines-110m.json").read_text())
    assert collection["type"] == "FeatureCollection"
    codes = {feature["properties"]["iso_a2"] for feature in collection["features"]}
    assert {"US", "ES", "GB", "BR", "XK"} <= codes
    for feature in collection["features"]:
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                assert ring[0] == ring[-1]
                # No ring jumps across the antimeridian but along a pole's edge.
                for (lon1, lat1), (lon2, _) in itertools.pairwise(ring):
                    assert abs(lon1 - lon2) <= 180 or abs(lat1) == 90


def test_a_ring_across_the_antimeridian_is_split() -> None:
    ring = [
        [179.0, 0.0],
        [180.0, 1.0],
        [-180.0, 1.0],
        [-179.0, 0.0],
        [-180.0, -1.0],
        [180.0, -1.0],
        [179.0, 0.0],
    ]
    pieces = build.split_at_antimeridian(ring)
    assert len(pieces) == 2
    for piece in pieces:
        assert piece[0] == piece[-1]
        assert len({math.copysign(1, lon) for lon, _ in piece}) == 1


def test_the_world_view_draws_every_continent_small() -> None:
    path = outline_path(MapView.around(0.5, 0.5, 1.0))
    assert 10_000 < len(path) < 80_000
    numbers = [int(n) for n in re.findall(r"-?\d+", path)]
    assert max(abs(n) for n in numbers) <= WIDTH * 1.1


def test_a_city_view_is_a_few_clipped_rings() -> None:
    madrid = MapView.fitting((-3.9, 40.3, -3.5, 40.55))
    path = outline_path(madrid)
    assert path.startswith("M")
    assert len(path) < 2_000


def test_clip_keeps_what_is_inside() -> None:
    square = [(-10.0, -10.0), (10.0, -10.0), (10.0, 10.0), (-10.0, 10.0)]
    assert sorted(clip(square, (0, 0, 5, 5))) == [(0, 0), (0, 5), (5, 0), (5, 5)]
    assert clip(square, (20, 20, 30, 30)) == []


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "10,0,5,1", "0,-91,1,0", "nan,0,1,1"])
def test_bad_bboxes_are_refused(text: str) -> None:
    with pytest.raises(BadParameter):
        parse_bbox(text)


bboxes = st.tuples(
    st.floats(-179, 178), st.floats(-80, 78), st.floats(0.001, 50), st.floats(0.001, 20)
).map(lambda b: (b[0], b[1], min(180.0, b[0] + b[2]), min(85.0, b[1] + b[3])))


@given(bboxes)
def test_a_view_holds_its_bbox_and_links_come_back(bbox: tuple[float, ...]) -> None:
    view = view_of(",".join(str(v) for v in bbox), None)
    west, south, east, north = bbox
    for lon, lat in ((west, south), (east, north)):
        x, y = view.project(lon, lat)
        assert -1 <= x <= WIDTH + 1
        assert -1 <= y <= HEIGHT + 1
    # A link's bbox draws the same view again.
    again = view_of(view.bbox_text, None)
    assert again.span == pytest.approx(view.span, rel=1e-3)
    assert again.x == pytest.approx(view.x, abs=view.span * 1e-3)
    # Zooming in then out comes back (away from the world's edges, where views stop).
    if MIN_SPAN * 2 < view.span < 0.25 and 0.1 < view.x < 0.6:
        back = view.zoomed(2).zoomed(0.5)
        assert back.span == pytest.approx(view.span)


def test_views_stay_inside_the_world() -> None:
    world = MapView.around(0.5, 0.5, 1.0)
    assert not world.can_zoom_out
    assert world.zoomed(0.5) == world
    east = MapView.around(0.99, 0.5, 0.1)
    assert east.x + east.span <= 1.0
    assert east.panned(0.5, 0).x == east.x
