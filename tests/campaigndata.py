"""Campaign records for the site's page tests: agencies, policies, requests, actions,
and the cameras and incidents that point at an agency, published on a real node.

Dates are relative to the node's clock (today, UTC), so "overdue" and "open" mean
the same whenever the tests run. What no page may show is here too: a record of
another audience, a retracted request, a closed action, and a lone incident in an
area cell of its own (fewer than ``min_incidents_per_cell``).
"""

import datetime
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from node.publishing import publish
from node.state import FEDERATION, STORE
from tests.factories import (
    NETWORK,
    action_body,
    agency_body,
    deployment_body,
    incident_body,
    policy_body,
    records_request_body,
)

BARCELONA = {"code": "ES-CT", "city": "Barcelona"}
HASH = "c3" * 32
# Three incidents share this area cell; the lone one is alone in its own.
CROWDED_AREA = "sp3e9g"
LONE_AREA = "sp3s2k"


@dataclass(frozen=True)
class CampaignIds:
    """Hex ids of what the pages show, and of what they must never show."""

    agency: str  # the current version
    agency_old: str  # the version it supersedes
    other_agency: str
    private_agency: str
    overdue_request: str
    answered_request: str
    retracted_request: str
    open_action: str
    closed_action: str
    camera: str


def day(offset: int, today: datetime.date) -> str:
    return (today + datetime.timedelta(days=offset)).isoformat()


async def put(
    app: web.Application, kind: str, body: dict[str, Any], audience: str = "public"
) -> str:
    federation = app[FEDERATION]
    record = await publish(
        app[STORE].records,
        federation.key,
        network_id=NETWORK,
        limits=federation.settings.limits,
        kind=kind,
        audience=audience,
        body=body,
        clock=app[STORE].clock,
    )
    return record.id.hex()


async def publish_campaign(app: web.Application) -> CampaignIds:
    """Publish the campaign data set on ``app``'s node (started); the ids."""
    now = app[STORE].clock()
    today = datetime.datetime.fromtimestamp(now / 1000, datetime.UTC).date()
    old = await put(
        app, "agency", agency_body(name="Guardia Urbana", jurisdiction=BARCELONA, wikidata=None)
    )
    agency = await put(
        app,
        "agency",
        agency_body(
            name="Guàrdia Urbana de Barcelona",
            jurisdiction=BARCELONA,
            wikidata="Q3307098",
            website="https://ajuntament.barcelona.cat/guardiaurbana/",
            supersedes=old,
        ),
    )
    other = await put(
        app,
        "agency",
        agency_body(name="Mossos d'Esquadra", jurisdiction={"code": "ES-CT"}, wikidata=None),
    )
    private = await put(
        app, "agency", agency_body(name="Secret Unit", jurisdiction=BARCELONA), "network"
    )
    points = {"name": "Guàrdia Urbana", "record": agency}
    camera = ""
    for n, (lat, ref) in enumerate(
        ((413_870_000, agency), (413_900_000, agency), (413_950_000, old))
    ):
        camera = await put(
            app,
            "deployment",
            deployment_body(
                lat_e7=lat,
                lon_e7=21_700_000 + n * 10_000,
                city="Barcelona",
                country="ES",
                agency={"name": "Guàrdia Urbana", "record": ref},
            ),
        )
    for n, area in enumerate((CROWDED_AREA,) * 3 + (LONE_AREA,)):
        await put(
            app,
            "incident",
            incident_body(
                area=area,
                city="Barcelona",
                region="CT",
                country="ES",
                summary=f"Stopped after a camera match, case {n}.",
                agency=points,
            ),
        )
    await put(
        app,
        "policy",
        policy_body(
            jurisdiction=BARCELONA,
            instrument="moratorium",
            status="in_committee",
            title="Moratòria del reconeixement facial",
            dates={"introduced": day(-40, today)},
            scope="Would pause any use of face recognition by city services for five years.",
            evidence=[{"url": "https://ajuntament.example/mocio.pdf", "sha256": HASH}],
        ),
    )
    await put(
        app,
        "policy",
        policy_body(
            jurisdiction=BARCELONA,
            agency=points,
            instrument="contract",
            status="in_force",
            title="Video analytics contract",
            dates={"passed": day(-200, today), "effective": day(-180, today)},
            scope="Face matching on the city's camera network, renewed each year.",
            evidence=[
                {
                    "url": "https://contractaciopublica.example/award",
                    "sha256": HASH,
                    "archived_url": "https://archive.example.org/award",
                }
            ],
        ),
    )
    await put(app, "policy", policy_body())  # San Francisco's ban, in force
    overdue = await put(
        app,
        "records_request",
        records_request_body(
            agency=points,
            law="ES Ley 19/2013",
            filed_on=day(-60, today),
            due_on=day(-30, today),
            status="acknowledged",
            subject="Contracts and audits of the facial recognition system",
            events=[
                {"on": day(-60, today), "status": "submitted"},
                {"on": day(-50, today), "status": "acknowledged", "note": "Reference 2026/118"},
            ],
        ),
    )
    answered = await put(
        app,
        "records_request",
        records_request_body(
            agency=points,
            law="ES Ley 19/2013",
            filed_on=day(-120, today),
            due_on=day(-90, today),
            status="completed",
            subject="Camera locations in Ciutat Vella",
            events=[{"on": day(-95, today), "status": "completed"}],
            responses=[{"sha256": HASH, "title": "Camera list", "received_on": day(-95, today)}],
        ),
    )
    await put(
        app,
        "records_request",
        records_request_body(
            agency={"name": "Mossos d'Esquadra", "record": other},
            law="ES Ley 19/2013",
            filed_on=day(-5, today),
            due_on=day(25, today),
            status="processing",
            subject="Use of the ABIS face search",
            events=[],
        ),
    )
    retracted = await put(
        app,
        "records_request",
        records_request_body(
            agency=points,
            subject="Withdrawn question",
            filed_on=day(-70, today),
            due_on=day(-40, today),
            events=[],
        ),
    )
    await put(app, "retraction", {"target": retracted, "reason": "error"})
    await put(
        app,
        "records_request",
        records_request_body(agency=points, subject="Members-only draft", events=[]),
        "network",
    )
    opened = await put(
        app,
        "action",
        action_body(
            type="public_comment",
            title="Tell the council: no face recognition in Barcelona",
            target=points,
            jurisdiction=BARCELONA,
            opens_on=day(-10, today),
            closes_on=day(20, today),
            summary="The council's committee hears the moratorium next month.",
        ),
    )
    await put(
        app,
        "action",
        action_body(
            type="petition",
            title="Catalonia-wide ban petition",
            target={"name": "Parlament de Catalunya"},
            jurisdiction={"code": "ES-CT"},
            opens_on=day(-30, today),
            closes_on=None,
        ),
    )
    closed = await put(
        app,
        "action",
        action_body(
            title="A hearing that already happened",
            target=points,
            jurisdiction=BARCELONA,
            opens_on=day(-40, today),
            closes_on=day(-5, today),
        ),
    )
    return CampaignIds(
        agency, old, other, private, overdue, answered, retracted, opened, closed, camera
    )
