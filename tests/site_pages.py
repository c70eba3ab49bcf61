"""Every page of the public site, for the checks each page must pass.

:data:`PAGES` is the one list of the site's pages that ``tests/test_site_quality.py``
visits (accessibility, HTML validity, nothing from another origin, weight,
screenshots). **A new page is added here with one line**, e.g.::

    SitePage("home", "/"),
    SitePage("map", "/map", scripts=300 * KB),
    SitePage("embed-map", "/embed/map", scripts=300 * KB),
    SitePage("deployments", "/deployments"),
    SitePage("incidents", "/incidents"),
    SitePage("deployment", "/deployments/{deployment}", scripts=40 * KB),
    SitePage("incident", "/incidents/{incident}", scripts=40 * KB),
    SitePage("retracted", "/incidents/{retracted}"),
    SitePage("stats", "/stats"),

A path may name a record of the seeded data set (:func:`seed`) by ``{deployment}``,
``{incident}``, ``{retracted}`` (a public incident whose retraction the node
holds) or ``{agency}`` (of the campaign data set, tests/campaigndata.py).
``scripts`` is the most JavaScript the page may load, gzip-compressed: none but on
the map and the record pages (their signature check). The node
the checks run against holds that data set, realistic and varied
(:mod:`tests.querydata`), some of it not public, and says who runs it
(:data:`SITE`), so the pages show everything they can.
"""

import random
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from node.config import Config, SiteAction, SiteSection
from node.state import STORE
from protocol.limits import DEFAULT_LIMITS
from protocol.records import verify_record
from protocol.sealing import ModeratorKey
from tests.campaigndata import publish_campaign
from tests.factories import NETWORK, admit
from tests.querydata import CHAPTERS, generate, supersede_and_retract

KB: Final = 1024


@dataclass(frozen=True)
class SitePage:
    name: str  # the screenshots' name: <name>-<js|nojs>-<width>.png
    path: str  # may hold {deployment}, {incident}, {retracted}
    status: int = 200
    scripts: int = 0  # bytes of JavaScript it may load (gzip -9, as the node serves it)

    def url(self, ids: dict[str, str]) -> str:
        """The page's path and query, in English unless the path says otherwise."""
        path = self.path.format(**ids)
        return path if "lang=" in path else f"{path}{'&' if '?' in path else '?'}lang=en"


PAGES: Final = (
    SitePage("home", "/"),
    SitePage("home-es", "/?lang=es"),
    SitePage("stats", "/stats"),
    SitePage("stats-filtered", "/stats?country=GB&occurred_from=2024-01-01&lang=es"),
    SitePage("privacy", "/privacy"),
    SitePage("privacy-es", "/privacy?lang=es"),
    SitePage("report", "/report"),
    SitePage("report-status", "/report/status"),
    SitePage("not-found", "/no-such-page", status=404),
    SitePage("deployments", "/deployments"),
    SitePage("deployments-filtered", "/deployments?frt=confirmed&status=reported&lang=es"),
    SitePage("incidents", "/incidents"),
    SitePage("incidents-empty", "/incidents?city=Nowhere"),
    SitePage("deployment", "/deployments/{deployment}", scripts=40 * KB),
    SitePage("incident", "/incidents/{incident}", scripts=40 * KB),
    SitePage("retracted", "/incidents/{retracted}", scripts=40 * KB),
    SitePage("record-bad-id", "/incidents/xyz", status=400),
    SitePage("map", "/map", scripts=300 * KB),
    SitePage("map-es", "/map?lang=es&kind=incident", scripts=300 * KB),
    SitePage("map-world", "/map?bbox=-180,-85,180,85", scripts=300 * KB),
    SitePage("embed-map", "/embed/map", scripts=300 * KB),
    SitePage("agencies", "/agencies"),
    SitePage("agency-es", "/agencies/{agency}?lang=es"),
    SitePage("policies", "/policies"),
    SitePage("requests", "/requests"),
    SitePage("act", "/act?city=Barcelona"),
)

SITE: Final = SiteSection(
    name="Ban the Scan Barcelona",
    city="Barcelona",
    contact="hola@banthescan.example",
    about={
        "en": "We map where the police use facial recognition in Barcelona.",
        "es": "Documentamos dónde usa la policía el reconocimiento facial en Barcelona.",
    },
    privacy={
        "en": "We keep reports on our own server and delete contact details after review.",
        "es": "Guardamos los informes en nuestro servidor y borramos los contactos al revisarlos.",
    },
    actions=[
        SiteAction.model_validate(
            {"title": "Sign the petition", "url": "https://petition.example/ban-the-scan"}
        )
    ],
)


def with_site(config: Config) -> Config:
    """``config`` with :data:`SITE` as its ``[site]``."""
    return config.model_copy(update={"site": SITE})


async def seed(app: web.Application, count: int = 80) -> dict[str, str]:
    """Put the data set on ``app``'s (started) node, and a moderator key so the report
    form is open; the ids the page paths may name."""
    store = app[STORE]
    key = ModeratorKey.generate()
    await store.submissions.add_key(key.public.key_id, key.public.text, "test", actor="test")
    await admit(store, *(chapter.public_key for chapter in CHAPTERS))
    data = generate(count, seed=12)
    supersede_and_retract(data, random.Random(12), 3)  # version chains, retractions
    gone = next(i for i in data.items if i.audience == "public" and i.kind == "incident")
    data.add(
        gone.origin,
        "retraction",
        "public",
        {"target": gone.id, "reason": "error"},
        1_760_000_000_000,
    )
    gone.current = False
    await store.records.ingest(
        [verify_record(i.record, network_id=NETWORK, limits=DEFAULT_LIMITS) for i in data.items]
    )
    public = [item for item in data.items if item.audience == "public"]
    campaign = await publish_campaign(app)
    return {
        "agency": campaign.agency,
        "deployment": next(i.id for i in public if i.kind == "deployment" and i.current),
        "incident": next(i.id for i in public if i.kind == "incident" and i.current),
        "retracted": gone.id,
    }
