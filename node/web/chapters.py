"""The chapters of the network as the home page lists them: name, city, site.

A chapter is known from two kinds of public record: the ``node`` record it
publishes about itself (its name, city, country and the URLs of its site) and
the stewards' ``membership`` records (``store.trust``, held in memory), which
admit it with a name and a place. The node record wins where both say
something, because the chapter wrote it; a member suspended or revoked is not
listed. This node is always listed (first), from ``[site]`` and ``[node]`` when
it has published no node record. Only few rows are read: one node record per
chapter, never the records it holds.
"""

from dataclasses import dataclass

from node.config import Config
from node.web.site import PUBLIC, SiteInfo
from protocol.trust import Trust
from storage.queries import RecordQueries


@dataclass(frozen=True)
class Chapter:
    """One chapter as the home page shows it."""

    name: str
    city: str | None
    country: str | None
    url: str | None  # its public site, from its node record
    this_node: bool


async def network_chapters(
    queries: RecordQueries, trust: Trust, own_key: bytes, site: SiteInfo, config: Config
) -> list[Chapter]:
    """This node first, then every other chapter by country, city and name."""
    found: dict[bytes, Chapter] = {}
    for member in trust.members():
        if member.action == "admit":
            found[member.subject] = Chapter(
                member.name, member.city, member.country, None, member.subject == own_key
            )
    for origin, info, _ in await queries.node_records(PUBLIC):
        decided = trust.member(origin)
        if decided is not None and decided.action != "admit":
            continue
        found[origin] = Chapter(
            info.name,
            info.city,
            info.country,
            str(info.urls[0]) if info.urls else None,
            origin == own_key,
        )
    own = found.pop(own_key, None)
    this = Chapter(
        site.name or (own.name if own else ""),
        site.city or (own.city if own else None) or None,
        (own.country if own else None) or config.node.country or None,
        own.url if own else None,
        True,
    )
    others = sorted(
        found.values(), key=lambda c: (c.country or "~", (c.city or "~").casefold(), c.name)
    )
    return [this, *others]
