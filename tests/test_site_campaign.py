"""The campaign pages on a real node holding the campaign data set (tests/campaigndata.py):
what each page shows, in English and Spanish, and what none of them ever shows."""

import re

from tests.campaigndata import LONE_AREA, CampaignIds, publish_campaign
from tests.conftest import NodeClient


async def page(client: NodeClient, url: str, status: int = 200) -> str:
    answer = await client.get(url)
    text = await answer.text()
    assert answer.status == status, (url, text[:2000])
    assert answer.content_type == "text/html"
    return text


def assert_never_shown(text: str, ids: CampaignIds) -> None:
    """No page shows a record of another audience, a retracted one, or a lone incident's
    area."""
    for hidden in ("Secret Unit", "Members-only draft", "Withdrawn question", ids.private_agency):
        assert hidden not in text
    assert LONE_AREA not in text


async def test_agency_pages(client: NodeClient) -> None:
    ids = await publish_campaign(client.app)
    listing = await page(client, "/agencies?lang=en")
    assert "Guàrdia Urbana de Barcelona" in listing
    assert "Mossos d&#39;Esquadra" in listing
    assert "Guardia Urbana<" not in listing  # the superseded version is not listed
    assert "1 overdue" in listing
    assert_never_shown(listing, ids)
    filtered = await page(client, "/agencies?country=ES&type=police&q=urbana&lang=es")
    assert "Guàrdia Urbana de Barcelona" in filtered
    assert "Mossos" not in filtered
    assert "Organismos: 1" in filtered

    agency = await page(client, f"/agencies/{ids.agency}?lang=en")
    assert "<h1>Guàrdia Urbana de Barcelona</h1>" in agency
    numbers = re.findall(
        r'<span class="number">(\d+)</span> <span class="number-label">([^<,]+)', agency
    )
    # Three cameras (one names the older version), four incidents, the contract policy,
    # two requests (the retracted one and the members' one are not counted), one open action.
    assert dict((label, int(n)) for n, label in numbers) == {
        "Cameras": 3,
        "Incidents": 4,
        "Policies": 1,
        "Records requests": 2,
        "Open actions": 1,
    }
    assert "Overdue by 30 days" in agency
    assert agency.index("Contracts and audits") < agency.index("Camera locations")
    assert "Moratòria del reconeixement facial" in agency  # the city's policy covers it
    assert "Stop Secret Surveillance" not in agency  # San Francisco's does not
    assert "Tell the council" in agency
    assert "already happened" not in agency
    assert "What you can do" in agency
    assert "/act?country=ES&amp;city=Barcelona" in agency
    # The small map: three camera points, and the three incidents of one cell as a count.
    assert agency.count('class="camera ') == 3
    assert agency.count('<rect class="cell ') == 1
    assert re.search(r'<text class="cell-count" [^>]*>3</text>', agency)  # its count, written
    assert_never_shown(agency, ids)
    spanish = await page(client, f"/agencies/{ids.agency}?lang=es")
    assert "Plazo vencido hace 30 días" in spanish
    assert "Qué puedes hacer" in spanish

    older = await page(client, f"/agencies/{ids.agency_old}?lang=en")
    assert f"/agencies/{ids.agency}?lang=en" in older  # "a newer version"
    await page(client, f"/agencies/{ids.private_agency}", 404)
    await page(client, f"/agencies/{ids.camera}", 404)  # a camera is not an agency
    await page(client, "/agencies/nothex", 400)
    await page(client, "/agencies?type=wizard", 400)
    await page(client, "/agencies?page=0", 400)
    await page(client, "/agencies?colour=red", 400)


async def test_policies_requests_and_actions(client: NodeClient) -> None:
    ids = await publish_campaign(client.app)
    policies = await page(client, "/policies?lang=en")
    assert "Stop Secret Surveillance Ordinance" in policies
    assert "https://archive.example.org/award" in policies  # the evidence, archived too
    assert 'class="standing standing-ban"' in policies  # the US, shaded
    assert 'class="standing standing-used"' in policies  # Spain: a contract in force
    assert_never_shown(policies, ids)
    proposed = await page(client, "/policies?country=ES&status=in_committee&lang=es")
    assert "Moratòria" in proposed
    assert "Video analytics" not in proposed
    assert "En comisión" in proposed
    await page(client, "/policies?status=banned", 400)
    await page(client, "/policies?country=XX", 400)

    tracker = await page(client, "/requests?lang=en")
    first = tracker.index("Contracts and audits")  # overdue: first
    assert first < tracker.index("Use of the ABIS") < tracker.index("Camera locations")
    assert "Reference 2026/118" in tracker  # the timeline's note
    assert_never_shown(tracker, ids)
    overdue = await page(client, "/requests?overdue=1&lang=en")
    assert "Contracts and audits" in overdue
    assert "ABIS" not in overdue
    one = await page(client, f"/requests?agency={ids.other_agency}&lang=es")
    assert "ABIS" in one
    assert "Contracts and audits" not in one
    await page(client, "/requests?agency=12", 400)
    await page(client, "/requests?overdue=yes", 400)

    act = await page(client, "/act?city=barcelona&lang=en")
    assert "Tell the council" in act  # the city's own
    assert "Catalonia-wide ban petition" in act  # its region's (ES-CT, from the records)
    assert "In Catalunya, Spain" in act  # ES-CT by its name, not "CT"
    assert "In Barcelona<" in act  # the city as the records spell it, not as typed
    assert "already happened" not in act
    assert 'rel="noreferrer noopener external"' in act
    assert_never_shown(act, ids)
    everywhere = await page(client, "/act?lang=es")
    assert "Tell the council" in everywhere
    assert "Actúa ahora" in everywhere
    nowhere = await page(client, "/act?city=Atlantis&country=GR&lang=en")
    assert "No open action is recorded for this place" in nowhere
    await page(client, "/act?near=me", 400)


async def test_the_map_ends_with_a_call_to_act(client: NodeClient) -> None:
    await publish_campaign(client.app)
    text = await page(client, "/map?lang=en")
    assert "What you can do" in text
    assert "Tell the council" in text
