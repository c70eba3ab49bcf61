"""What an agency's page gathers, in words (:mod:`node.web.agencies` serves it).

For the agency's ids (every version of its record), :func:`agency_sections`
reads the counts of what points at it and a few of each: the newest cameras
and incidents, the policies for the agency or covering its jurisdiction (the
whole country, its region, its city), its records requests overdue first, and
its open actions; when it has none, the open actions of its jurisdiction, for
the call to act. Each list is short (:data:`SHOWN`); the counts say how many
there are, and the request tracker (``/requests?agency=``) shows them all.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from node.web.campaignview import (
    ActionItem,
    AgencyLink,
    PolicyItem,
    RequestItem,
    action_item,
    agency_path,
    jurisdiction_place,
    policy_item,
    request_item,
)
from node.web.i18n import N_, Catalog
from node.web.recordview import RecordView, partial_date, place
from protocol.campaign import AgencyProfile, split_region
from protocol.kinds import Deployment, Incident, decode_body
from storage.campaignindexes import AGENCY_REF, COUNTRY_NEWEST, POLICY_PLACE
from storage.campaignreads import (
    AgencyCounts,
    CampaignReads,
    CampaignRow,
    Condition,
    answered_sql,
    open_sql,
    overdue_sql,
)

SHOWN: Final = 10
NEWEST: Final = "r.created_ms DESC, r.rid DESC"


@dataclass(frozen=True)
class RecordLine:
    """A camera or an incident in one line: its page, what and where, a detail."""

    path: str
    heading: str
    detail: str


@dataclass(frozen=True)
class AgencySections:
    agency: AgencyProfile
    place: str
    parent: AgencyLink | None
    counts: AgencyCounts
    cameras: list[RecordLine]
    incidents: list[RecordLine]
    policies: list[PolicyItem]
    requests: list[RequestItem]
    actions: list[ActionItem]  # the agency's own open actions
    nearby_actions: list[ActionItem]  # its jurisdiction's, when it has none of its own
    requests_link: str
    act_link: str


def requests_order(today: str) -> tuple[str, list[str]]:
    """Overdue first (longest overdue first), then open ones by due date, then answered
    ones, newest filed first: the tracker's order."""
    overdue, overdue_params = overdue_sql(today)
    answered, answered_params = answered_sql()
    order = (
        f"CASE WHEN {overdue} THEN 0 WHEN {answered} THEN 2 ELSE 1 END,"
        " CASE WHEN r.due_on IS NULL THEN 1 ELSE 0 END, r.due_on,"
        " r.occurred_on DESC, r.rid DESC"
    )
    return order, [*overdue_params, *answered_params]


def open_condition(today: str) -> Condition:
    clause, params = open_sql(today)
    return Condition().add(clause, params)


ACTIONS_ORDER: Final = "CASE WHEN r.due_on IS NULL THEN 1 ELSE 0 END, r.due_on, r.rid DESC"


async def agency_sections(
    reads: CampaignReads, view: RecordView, refs: Sequence[bytes], today: str, t: Catalog
) -> AgencySections:
    agency = view.body
    assert isinstance(agency, AgencyProfile)
    counts = AgencyCounts()
    for found in (await reads.agency_counts(refs, today)).values():
        for name in vars(counts):
            setattr(counts, name, getattr(counts, name) + getattr(found, name))
    pointing = Condition().within("r.agency_ref", refs)
    # Through agency_ref: SQLite would otherwise walk every camera newest first.
    cameras = await reads.rows("deployment", pointing, NEWEST, SHOWN, index=AGENCY_REF)
    incidents = await reads.rows("incident", pointing, NEWEST, SHOWN, index=AGENCY_REF)
    country, region = split_region(agency.jurisdiction.code)
    policies = await covering_policies(reads, pointing, country, region, agency.jurisdiction.city)
    order, order_params = requests_order(today)
    requests = await reads.rows(
        "records_request", pointing, order, SHOWN, order_params=order_params, index=AGENCY_REF
    )
    opened = open_condition(today)
    actions = await reads.rows(
        "action",
        Condition([*pointing.clauses, *opened.clauses], [*pointing.params, *opened.params]),
        ACTIONS_ORDER,
        SHOWN,
        index=AGENCY_REF,
    )
    nearby = []
    if not actions:
        around = open_condition(today).equal("r.country", country)
        around.add("(r.region IS NULL OR r.region = ?)", [region])
        around.add("(r.city IS NULL OR r.city = ? COLLATE NOCASE)", [agency.jurisdiction.city])
        nearby = await reads.rows("action", around, ACTIONS_ORDER, 3)
    parent = None
    if agency.parent is not None:
        parent = AgencyLink(t(N_("agency.parent_record")), agency_path(agency.parent, t.lang))
    act_params = [("country", country), ("city", agency.jurisdiction.city or "")]
    return AgencySections(
        agency=agency,
        place=jurisdiction_place(t, agency.jurisdiction),
        parent=parent,
        counts=counts,
        cameras=[camera_line(row.id, row.body, t) for row in cameras],
        incidents=[incident_line(row.id, row.body, t) for row in incidents],
        policies=[policy_item(row, t) for row in policies],
        requests=[request_item(row, today, t) for row in requests],
        actions=[action_item(row, today, t) for row in actions],
        nearby_actions=[action_item(row, today, t) for row in nearby],
        requests_link=f"/requests?agency={view.id}&lang={t.lang}",
        act_link="/act?" + urlencode([(k, v) for k, v in act_params if v] + [("lang", t.lang)]),
    )


async def covering_policies(
    reads: CampaignReads,
    pointing: Condition,
    country: str,
    region: str | None,
    city: str | None,
) -> list[CampaignRow]:
    """The policies pointing at the agency, then those of its jurisdiction: its city's
    (in its region, then with no region), its region's, the whole country's; newest
    first in each, at most :data:`SHOWN` in all. One indexed read per level, each
    stopping at what it needs: the city's and the region's are few (an index range of
    ``records_policy_place``), and the country's, which may be thousands, are walked
    newest first (``records_current_country``) rather than sorted."""
    found = await reads.rows("policy", pointing, NEWEST, SHOWN, index=AGENCY_REF)
    seen = {row.id for row in found}
    levels: list[tuple[str | None, str | None]] = [
        (region, city),
        (None, city),
        (region, None),
        (None, None),
    ]
    for level_region, level_city in dict.fromkeys(levels):
        if len(found) >= SHOWN:
            break
        around = Condition().equal("r.country", country)
        for column, value in (("r.region", level_region), ("r.city", level_city)):
            if value:
                around.add(f"{column} = ?", [value])
            else:
                around.add(f"{column} IS NULL")
        index = POLICY_PLACE if level_region or level_city else COUNTRY_NEWEST
        wanted = SHOWN - len(found) + len(seen)  # rows already shown may come again
        rows = await reads.rows("policy", around, NEWEST, wanted, index=index)
        found += [row for row in rows if row.id not in seen]
        seen.update(row.id for row in rows)
    return found[:SHOWN]


def camera_line(record_id: bytes, body: bytes, t: Catalog) -> RecordLine:
    camera = decode_body("deployment", body)
    assert isinstance(camera, Deployment)
    status = t(f"record_status.{camera.status}")
    frt = t(f"frt.{camera.frt_capability.status}")
    return RecordLine(
        f"/deployments/{record_id.hex()}?lang={t.lang}",
        f"{t('list.deployment_at')} {place(t, camera.city, None, camera.country)}",
        f"{status} · {t('rec.frt')}: {frt}",
    )


def incident_line(record_id: bytes, body: bytes, t: Catalog) -> RecordLine:
    incident = decode_body("incident", body)
    assert isinstance(incident, Incident)
    where = place(t, incident.city, incident.region, incident.country)
    verified = f"record_status.{incident.verification.status}"
    return RecordLine(
        f"/incidents/{record_id.hex()}?lang={t.lang}",
        f"{t(f'category.{incident.category}')}: {where}",
        f"{partial_date(incident.occurred_on)} · {t(verified)}",
    )
