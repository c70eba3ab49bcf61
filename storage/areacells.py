"""Incidents on the map: counts per area cell, never a group smaller than the minimum.

An incident carries an area cell (a geohash of at most six characters), never a
point. The map shows how many incidents each cell holds, but only where a cell
holds at least ``minimum`` of them (``[site] min_incidents_per_cell``).

:func:`suppress` decides once, for one set of incidents, which groups are shown:
from the finest cells up, a cell holding at least ``minimum`` incidents (its own,
plus those its sub-cells could not show) is *shown* with that count; a smaller
cell's incidents go up to its parent cell, and so on to the coarsest cells (one
character). What is still below the minimum there is shown nowhere, only as a
total ("n incidents in areas too small to show").

Every answer the map gives (a tile, a GeoJSON view, at any zoom) is then a sum of
shown groups: at precision ``p`` a shown group of a finer cell counts in its
``p``-character ancestor, and a shown group of a coarser cell is drawn as its own,
larger cell. So each count is at least ``minimum``, and because every zoom, tile
and view sums the *same* groups, subtracting one answer from another (two zooms,
two overlapping views) yields only sums of whole groups, never fewer than
``minimum`` incidents. What is not guaranteed is said in docs/site.md: two
different filters are two different sets of incidents, each grouped on its own.
"""

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from protocol.fields import GEOHASH_ALPHABET, MAX_AREA_PRECISION
from protocol.geohash import bit_counts, from_index

MAX_PRECISION = MAX_AREA_PRECISION

# A cell's indices at its own precision: (longitude index, latitude index).
Index = tuple[int, int]


def cell_bounds(precision: int, index: Index) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees of the cell at ``index``."""
    lon_bits, lat_bits = bit_counts(precision)
    i, j = index
    return (
        -180 + 360 * i / (1 << lon_bits),
        -90 + 180 * j / (1 << lat_bits),
        -180 + 360 * (i + 1) / (1 << lon_bits),
        -90 + 180 * (j + 1) / (1 << lat_bits),
    )


def index_range(
    precision: int, west: float, south: float, east: float, north: float
) -> tuple[int, int, int, int]:
    """(first column, first row, last column, last row) of the cells meeting a box."""
    lon_bits, lat_bits = bit_counts(precision)
    columns, rows = 1 << lon_bits, 1 << lat_bits

    def clamp(value: float, top: int) -> int:
        return min(max(int(value), 0), top - 1)

    return (
        clamp((west + 180) / 360 * columns, columns),
        clamp((south + 90) / 180 * rows, rows),
        clamp((east + 180) / 360 * columns, columns),
        clamp((north + 90) / 180 * rows, rows),
    )


@dataclass(frozen=True)
class Cell:
    """A drawn cell: its geohash, its precision's indices and the incidents it shows."""

    geohash: str
    index: Index
    count: int

    @property
    def precision(self) -> int:
        return len(self.geohash)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return cell_bounds(self.precision, self.index)


@dataclass
class AreaCells:
    """The shown groups of one set of incidents (see the module docstring)."""

    minimum: int
    shown: dict[str, int]  # geohash -> incidents shown there (each >= minimum)
    hidden: int  # incidents in no shown group
    _views: dict[int, dict[int, dict[Index, int]]] = field(default_factory=dict, repr=False)

    @property
    def total(self) -> int:
        return sum(self.shown.values()) + self.hidden

    def at(self, precision: int) -> dict[int, dict[Index, int]]:
        """The shown groups summed to at most ``precision`` characters: by cell precision,
        each cell's indices and count (computed once per precision)."""
        view = self._views.get(precision)
        if view is None:
            summed: dict[str, int] = defaultdict(int)
            for geohash, count in self.shown.items():
                summed[geohash[:precision]] += count
            view = defaultdict(dict)
            for geohash, count in summed.items():
                view[len(geohash)][fast_cell_index(geohash)] = count
            self._views[precision] = view = dict(view)
        return view

    def cells(
        self, precision: int, west: float, south: float, east: float, north: float
    ) -> Iterator[Cell]:
        """The drawn cells at ``precision`` that meet the box (degrees; west <= east)."""
        for level, by_index in sorted(self.at(precision).items()):
            first_i, first_j, last_i, last_j = index_range(level, west, south, east, north)
            span = (last_i - first_i + 1) * (last_j - first_j + 1)
            if span <= len(by_index):
                found = (
                    ((i, j), by_index[(i, j)])
                    for i in range(first_i, last_i + 1)
                    for j in range(first_j, last_j + 1)
                    if (i, j) in by_index
                )
            else:
                found = (
                    (index, count)
                    for index, count in by_index.items()
                    if first_i <= index[0] <= last_i and first_j <= index[1] <= last_j
                )
            for index, count in found:
                yield Cell(from_index(level, index), index, count)


def suppress(counts: Mapping[str, int], minimum: int) -> AreaCells:
    """The shown groups of incidents counted per area cell (``counts``: geohash -> n).

    Plain dicts and one pass per precision: it runs over every cell holding an
    incident (15,806 on the bench's node) each time the groups are read again, and
    this form took half the time of one with nested ``defaultdict``s (bench/README.md)."""
    minimum = max(minimum, 1)
    levels: list[dict[str, int]] = [{} for _ in range(MAX_PRECISION + 1)]
    for geohash, count in counts.items():
        if count > 0:
            if len(geohash) > MAX_PRECISION:
                geohash = geohash[:MAX_PRECISION]
            level = levels[len(geohash)]
            level[geohash] = level.get(geohash, 0) + count
    shown: dict[str, int] = {}
    carried: dict[str, int] = {}
    for length in range(MAX_PRECISION, 0, -1):
        level = levels[length]
        for geohash, count in carried.items():
            level[geohash] = level.get(geohash, 0) + count
        carried = {}
        for geohash, count in level.items():
            if count >= minimum:
                shown[geohash] = count
            else:
                parent = geohash[:-1]
                carried[parent] = carried.get(parent, 0) + count
    return AreaCells(minimum, shown, sum(carried.values()))


def fast_cell_index(geohash: str) -> Index:
    """:func:`protocol.geohash.cell_index` of a valid geohash, by table: a character at
    an even position holds three longitude and two latitude bits (interleaved, longitude
    first), one at an odd position two and three. Five times faster than bit by bit; a
    view of the groups at six characters indexes every shown cell (26 ms of 100,000
    incidents' groups bit by bit)."""
    lon_index = lat_index = 0
    odd = False
    for ch in geohash:
        if odd:
            lon_bits, lat_bits = _ODD[ch]
            lon_index, lat_index = lon_index << 2 | lon_bits, lat_index << 3 | lat_bits
        else:
            lon_bits, lat_bits = _EVEN[ch]
            lon_index, lat_index = lon_index << 3 | lon_bits, lat_index << 2 | lat_bits
        odd = not odd
    return lon_index, lat_index


def _bits(value: int, *positions: int) -> int:
    """The bits of ``value`` at ``positions`` (most significant first), packed."""
    packed = 0
    for position in positions:
        packed = packed << 1 | (value >> position) & 1
    return packed


# A character's (longitude bits, latitude bits) at an even and at an odd position.
_EVEN: Final = {
    ch: (_bits(value, 4, 2, 0), _bits(value, 3, 1)) for value, ch in enumerate(GEOHASH_ALPHABET)
}
_ODD: Final = {
    ch: (_bits(value, 3, 1), _bits(value, 4, 2, 0)) for value, ch in enumerate(GEOHASH_ALPHABET)
}


def precision_for_zoom(zoom: int) -> int:
    """The cell precision a map at ``zoom`` draws: cells a few tens of pixels across."""
    return min(max((zoom + 3) // 2, 1), MAX_PRECISION)
