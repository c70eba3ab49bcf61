"""Geohash cells: encode a point given in 1e-7 degrees, decode a cell to its bounds.

A geohash of ``n`` characters names a cell of a grid that halves longitude and
latitude alternately, longitude first, ``5 * n`` times. Encoding works on the
integer ``lat_e7``/``lon_e7`` a deployment carries, with exact integer
arithmetic, so the same point always lands in the same cell on every machine
(reports are snapped to cells this way). A point on a cell edge belongs to the
cell to its north and east, as in every common implementation; latitude 90 and
longitude 180 fall in the last row and column.

Cell bounds are exact: every edge is ``-180 + 360 * i / 2**k`` (or the same
over 180 for latitude), a binary fraction a float holds without rounding.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from protocol.fields import GEOHASH_ALPHABET, MAX_AREA_PRECISION

MAX_PRECISION: Final = 12
_LAT_SPAN_E7: Final = 1_800_000_000
_LON_SPAN_E7: Final = 3_600_000_000
_VALUES: Final = {ch: index for index, ch in enumerate(GEOHASH_ALPHABET)}


@dataclass(frozen=True, slots=True)
class Cell:
    """A geohash cell's bounds in decimal degrees: south/north latitude, west/east longitude."""

    south: float
    west: float
    north: float
    east: float

    @property
    def center(self) -> tuple[float, float]:
        """(lat, lon) of the middle of the cell."""
        return (self.south + self.north) / 2, (self.west + self.east) / 2


def bit_counts(precision: int) -> tuple[int, int]:
    """(longitude bits, latitude bits) of a geohash of ``precision`` characters."""
    bits = 5 * precision
    return (bits + 1) // 2, bits // 2


def _index(value_e7: int, span_e7: int, bits: int) -> int:
    """Which of ``2**bits`` equal slices of [-span/2, span/2] holds the value."""
    index = (value_e7 + span_e7 // 2) * (1 << bits) // span_e7
    return min(index, (1 << bits) - 1)


def encode(lat_e7: int, lon_e7: int, precision: int) -> str:
    """The geohash of ``precision`` characters whose cell holds the point."""
    if not 1 <= precision <= MAX_PRECISION:
        raise ValueError(f"precision must be from 1 to {MAX_PRECISION}, not {precision}")
    if not -900_000_000 <= lat_e7 <= 900_000_000:
        raise ValueError("lat_e7 must be from -900000000 to 900000000")
    if not -1_800_000_000 <= lon_e7 <= 1_800_000_000:
        raise ValueError("lon_e7 must be from -1800000000 to 1800000000")
    lon_bits, lat_bits = bit_counts(precision)
    lon_index = _index(lon_e7, _LON_SPAN_E7, lon_bits)
    lat_index = _index(lat_e7, _LAT_SPAN_E7, lat_bits)
    return from_index(precision, (lon_index, lat_index))


def from_index(precision: int, index: tuple[int, int]) -> str:
    """The geohash of the cell at (longitude index, latitude index) in the grid of
    ``precision`` characters: the two indices' bits interleaved, longitude first, most
    significant bit first."""
    lon_bits, lat_bits = bit_counts(precision)
    lon_index, lat_index = index
    code = 0
    for step in range(5 * precision):
        if step % 2 == 0:
            lon_bits -= 1
            code = (code << 1) | ((lon_index >> lon_bits) & 1)
        else:
            lat_bits -= 1
            code = (code << 1) | ((lat_index >> lat_bits) & 1)
    return "".join(
        GEOHASH_ALPHABET[(code >> (5 * (precision - 1 - i))) & 31] for i in range(precision)
    )


def to_e7(degrees: float) -> int:
    """Degrees as the integer 1e-7 degrees records carry, rounded half away from zero.

    Decimal rounding of the shortest text form, so 40.7128 is 407128000 on every
    machine, with no binary floating-point surprise.
    """
    return int(Decimal(repr(degrees)).scaleb(7).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def snap(lat: float, lon: float, precision: int = MAX_AREA_PRECISION) -> str:
    """The area cell of a reported point: the same cell for the same point every time,
    never finer than :data:`~protocol.fields.MAX_AREA_PRECISION` characters."""
    if not 1 <= precision <= MAX_AREA_PRECISION:
        raise ValueError(f"an area cell has 1 to {MAX_AREA_PRECISION} characters, not {precision}")
    return encode(to_e7(lat), to_e7(lon), precision)


def cell_index(geohash: str) -> tuple[int, int]:
    """(longitude index, latitude index) of a geohash's cell in its precision's grid."""
    if not 1 <= len(geohash) <= MAX_PRECISION:
        raise ValueError(f"a geohash has 1 to {MAX_PRECISION} characters, not {len(geohash)}")
    lon_index = lat_index = 0
    step = 0
    for ch in geohash:
        value = _VALUES.get(ch)
        if value is None:
            raise ValueError(f"{ch!r} is not in the geohash alphabet")
        for shift in range(4, -1, -1):
            bit = (value >> shift) & 1
            if step % 2 == 0:
                lon_index = (lon_index << 1) | bit
            else:
                lat_index = (lat_index << 1) | bit
            step += 1
    return lon_index, lat_index


def decode(geohash: str) -> Cell:
    """The bounds of a geohash's cell."""
    lon_index, lat_index = cell_index(geohash)
    lon_bits, lat_bits = bit_counts(len(geohash))
    # 180 * i is an exact integer and the division is by a power of two: no rounding.
    return Cell(
        south=-90 + 180 * lat_index / (1 << lat_bits),
        west=-180 + 360 * lon_index / (1 << lon_bits),
        north=-90 + 180 * (lat_index + 1) / (1 << lat_bits),
        east=-180 + 360 * (lon_index + 1) / (1 << lon_bits),
    )
