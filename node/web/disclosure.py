"""Small groups of incidents folded together, so no chart singles out a few reports.

A count of incidents by city, by month or by category can point at the few
people behind a small group. Every incident group a page shows holds at least
``[site] min_incidents_per_cell`` incidents (the map's rule for area cells):
:func:`fold_small_groups` moves each smaller group into one "other" group.
When that group is itself too small, the next smallest shown groups join it
(secondary suppression) until it reaches the minimum, so its number, which a
reader could also get by subtracting the shown groups from the total, never
reveals a small group either. Only when the total itself is below the minimum
is a number hidden: the "other" group is then shown as "fewer than N".
Cameras are public points and are never folded.
"""

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Folded(Generic[K]):
    """Groups as a page may show them."""

    shown: list[tuple[K, int]]  # in the order given, each count >= the minimum
    folded: frozenset[K]  # the groups not shown one by one (counted in ``other``)
    other: int  # their total; 0 when nothing was folded
    minimum: int

    @property
    def other_shown(self) -> bool:
        """Whether ``other`` may be shown as a number (else: "fewer than minimum")."""
        return self.other == 0 or self.other >= self.minimum

    @property
    def total(self) -> int:
        return sum(count for _, count in self.shown) + self.other


def fold_small_groups(groups: Sequence[tuple[K, int]], minimum: int) -> Folded[K]:
    """``groups`` (key, count) with every group under ``minimum`` folded into "other"."""
    shown = [(key, count) for key, count in groups if count >= minimum]
    folded = {key for key, count in groups if 0 < count < minimum}
    other = sum(count for _, count in groups if 0 < count < minimum)
    while 0 < other < minimum and shown:
        smallest = min(range(len(shown)), key=lambda i: shown[i][1])
        key, count = shown.pop(smallest)
        folded.add(key)
        other += count
    return Folded(shown, frozenset(folded), other, minimum)
