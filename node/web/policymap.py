"""The map of ``/policies``: each country shaded by the strongest policy recorded in it.

A country's *standing* is the first of :data:`STANDINGS` that some current
public policy in it (the whole country, a region or a city) meets:

- ``ban``: a ban or moratorium passed or in force;
- ``governed``: an oversight ordinance passed or in force;
- ``proposed``: any instrument proposed or in committee;
- ``used``: a contract, procurement, budget line or pilot passed or in force;
- ``other``: any other policy recorded (repealed, expired, rejected, not recorded).

The drawing is the map page's basemap (:mod:`node.web.outlines`): the land,
then one path per standing with its own fill and hatching (site.css: never
colour alone), for the whole world or, under a country filter, that country.
Counts come from one grouped read of the columns (country, instrument, status);
the table beside the map says the same in words.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from node.web.mapview import HEIGHT, WIDTH, MapView
from node.web.outlines import LEVELS, level, outline_path

STANDINGS: Final = ("ban", "governed", "proposed", "used", "other")
IN_EFFECT: Final = frozenset({"passed", "in_force"})
PENDING: Final = frozenset({"proposed", "in_committee"})
WORLD_VIEW: Final = (-170.0, -56.0, 180.0, 78.0)


def standing(instrument: str, status: str) -> str:
    """The standing one policy gives its country."""
    if status in IN_EFFECT and instrument in ("ban", "moratorium"):
        return "ban"
    if status in IN_EFFECT and instrument == "oversight_ordinance":
        return "governed"
    if status in PENDING:
        return "proposed"
    if status in IN_EFFECT:
        return "used"
    return "other"


@dataclass
class CountryPolicies:
    """What is recorded in one country: how many policies of each standing."""

    code: str
    counts: dict[str, int]

    @property
    def standing(self) -> str:
        return next(name for name in STANDINGS if self.counts.get(name))

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def by_country(
    groups: Iterable[tuple[str | None, str | None, str | None, int]],
) -> list[CountryPolicies]:
    """(country, instrument, status, count) groups folded per country, by country code."""
    found: dict[str, CountryPolicies] = {}
    for country, instrument, status, count in groups:
        if not country:
            continue
        entry = found.setdefault(country, CountryPolicies(country, {}))
        name = standing(instrument or "", status or "")
        entry.counts[name] = entry.counts.get(name, 0) + count
    return sorted(found.values(), key=lambda entry: entry.code)


@dataclass(frozen=True)
class PolicyDrawing:
    width: int
    height: int
    land: str
    layers: tuple[tuple[str, str], ...]  # (standing, path data), weakest first


def country_view(code: str) -> MapView | None:
    """The view fitting ``code``'s outline (its largest ring, so far islands do not
    shrink the mainland to a dot), or None when the outlines lack it."""
    rings = [ring for ring in level(LEVELS[0][0]) if ring.country == code]
    if not rings:
        return None
    ring = max(rings, key=lambda r: (r.max_x - r.min_x) * (r.max_y - r.min_y))
    span = max(ring.max_x - ring.min_x, (ring.max_y - ring.min_y) * WIDTH / HEIGHT) * 1.3
    return MapView.around((ring.min_x + ring.max_x) / 2, (ring.min_y + ring.max_y) / 2, span)


def policy_drawing(countries: list[CountryPolicies], focus: str | None) -> PolicyDrawing:
    view = (country_view(focus) if focus else None) or MapView.fitting(WORLD_VIEW)
    standing_of = {entry.code: entry.standing for entry in countries}

    def layer(name: str) -> str:
        return outline_path(view, lambda code: standing_of.get(code) == name)

    layers = tuple(
        (name, layer(name)) for name in reversed(STANDINGS) if name in standing_of.values()
    )
    return PolicyDrawing(WIDTH, HEIGHT, outline_path(view), layers)
