"""Geohash cells: published values, exact edges, and round-trip properties."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.fields import GEOHASH_ALPHABET, MAX_AREA_PRECISION
from protocol.geohash import MAX_PRECISION, decode, encode, snap, to_e7

lats = st.integers(-900_000_000, 900_000_000)
lons = st.integers(-1_800_000_000, 1_800_000_000)
precisions = st.integers(1, MAX_PRECISION)
geohashes = st.text(alphabet=GEOHASH_ALPHABET, min_size=1, max_size=MAX_PRECISION)


def test_the_wikipedia_example_point() -> None:
    # Wikipedia's example: u4pruydqqvj is about 57.64911, 10.40744 (Jutland, Denmark).
    assert encode(576_491_100, 104_074_400, 11) == "u4pruydqqvj"
    cell = decode("u4pruydqqvj")
    assert cell.south < 57.64911 < cell.north
    assert cell.west < 10.40744 < cell.east


def test_the_wikipedia_example_cell() -> None:
    # Wikipedia decodes ezs42 to 42.583 to 42.627 N and 5.625 to 5.581 W.
    cell = decode("ezs42")
    assert (cell.south, cell.north) == (42.5830078125, 42.626953125)
    assert (cell.west, cell.east) == (-5.625, -5.5810546875)
    assert encode(426_050_000, -56_030_000, 5) == "ezs42"


@pytest.mark.parametrize(
    ("lat_e7", "lon_e7", "expected"),
    [
        (0, 0, "s00000000000"),  # the origin is the south-west corner of the cell s0...
        (-1, -1, "7zzzzzzzzzzz"),  # and just south-west of it is the last cell of 7
        (900_000_000, 1_800_000_000, "zzzzzzzzzzzz"),
        (-900_000_000, -1_800_000_000, "000000000000"),
    ],
)
def test_edges_and_corners(lat_e7: int, lon_e7: int, expected: str) -> None:
    assert encode(lat_e7, lon_e7, 12) == expected


def test_single_character_cells_tile_the_world() -> None:
    cells = [decode(ch) for ch in GEOHASH_ALPHABET]
    assert sum((c.north - c.south) * (c.east - c.west) for c in cells) == 180 * 360
    assert (decode("0").south, decode("0").west) == (-90, -180)
    assert (decode("z").north, decode("z").east) == (90, 180)


@pytest.mark.parametrize("bad", ["", "a", "dr5ru7i", "0" * 13, "DR5"])
def test_decode_refuses_what_is_not_a_geohash(bad: str) -> None:
    with pytest.raises(ValueError, match="geohash"):
        decode(bad)


@pytest.mark.parametrize(
    ("lat_e7", "lon_e7", "precision"),
    [(900_000_001, 0, 5), (0, -1_800_000_001, 5), (0, 0, 0), (0, 0, 13)],
)
def test_encode_refuses_out_of_range(lat_e7: int, lon_e7: int, precision: int) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the argument
        encode(lat_e7, lon_e7, precision)


@given(lats, lons, precisions)
def test_the_cell_holds_the_point_exactly(lat_e7: int, lon_e7: int, precision: int) -> None:
    cell = decode(encode(lat_e7, lon_e7, precision))
    lat, lon = Fraction(lat_e7, 10**7), Fraction(lon_e7, 10**7)
    # Edges are exact floats, so Fraction compares without rounding. South and west
    # edges are inclusive; north and east only at the pole and antimeridian.
    assert Fraction(cell.south) <= lat
    assert lat < Fraction(cell.north) or cell.north == 90
    assert Fraction(cell.west) <= lon
    assert lon < Fraction(cell.east) or cell.east == 180


@given(lats, lons, st.integers(1, MAX_PRECISION - 1))
def test_a_longer_geohash_extends_the_shorter(lat_e7: int, lon_e7: int, precision: int) -> None:
    shorter = encode(lat_e7, lon_e7, precision)
    assert encode(lat_e7, lon_e7, precision + 1).startswith(shorter)


@given(st.text(alphabet=GEOHASH_ALPHABET, min_size=1, max_size=8))
def test_encoding_a_cells_centre_gives_the_cell(geohash: str) -> None:
    # Cells of up to 8 characters are far wider than 1e-7 degrees, so the centre
    # rounded to 1e-7 degrees stays inside.
    lat, lon = decode(geohash).center
    assert encode(round(lat * 10**7), round(lon * 10**7), len(geohash)) == geohash


@given(geohashes.filter(lambda g: len(g) < MAX_PRECISION), st.sampled_from(GEOHASH_ALPHABET))
def test_a_child_cell_lies_inside_its_parent(parent: str, ch: str) -> None:
    outer, inner = decode(parent), decode(parent + ch)
    assert outer.south <= inner.south < inner.north <= outer.north
    assert outer.west <= inner.west < inner.east <= outer.east


# Snapping a reported point to the area cell an incident record carries.

degrees_lat = st.floats(-90, 90, allow_nan=False)
degrees_lon = st.floats(-180, 180, allow_nan=False)


def test_snapping_a_known_point() -> None:
    # Times Square, New York: dr5ru7 at 6 characters.
    assert snap(40.758, -73.9855) == "dr5ru7"
    assert snap(40.758, -73.9855, 4) == "dr5r"


@given(degrees_lat, degrees_lon, st.integers(1, MAX_AREA_PRECISION))
def test_snapping_is_deterministic_and_holds_the_point(lat: float, lon: float, n: int) -> None:
    cell = snap(lat, lon, n)

    assert cell == snap(lat, lon, n) == snap(float(repr(lat)), float(repr(lon)), n)
    assert len(cell) == n
    assert snap(lat, lon).startswith(cell)
    bounds = decode(cell)
    # The point rounded to 1e-7 degrees (what records carry) lies in the cell.
    assert bounds.south <= to_e7(lat) / 1e7 <= bounds.north
    assert bounds.west <= to_e7(lon) / 1e7 <= bounds.east


@pytest.mark.parametrize("precision", [0, 7, 12, -1])
def test_snapping_is_never_finer_than_six_characters(precision: int) -> None:
    with pytest.raises(ValueError, match="1 to 6 characters"):
        snap(40.758, -73.9855, precision)


def test_degrees_round_to_1e7_half_away_from_zero() -> None:
    assert to_e7(40.7128) == 407_128_000
    assert to_e7(0.00000005) == 1
    assert to_e7(-0.00000005) == -1
    assert to_e7(-73.98765432) == -739_876_543
