"""The campaign records in words: what the agency, policy, request and action pages show.

Each page reads rows (:mod:`storage.campaignreads`) and turns the bodies of one
page of them into the plain values of this module, so the templates only lay
words out. Values from a record's closed vocabulary (an agency's type, a
policy's instrument and status, a request's status, an action's type) are
message ids of :func:`campaign_message_ids`, in every language of the site.

Dates are the ISO dates the records hold; "overdue" and "open" are judged on
the day the page is built (``today``), by :mod:`storage.campaignreads`'s rule.
"""

import datetime
from dataclasses import dataclass
from typing import Final, get_args

from node.web.i18n import Catalog
from node.web.recordview import place
from node.web.regions import region_name
from protocol.campaign import (
    ANSWERED_STATUSES,
    Action,
    AgencyProfile,
    Jurisdiction,
    Policy,
    PolicyDates,
    PolicyStatus,
    RecordsRequest,
    RequestStatus,
    split_region,
)
from protocol.fields import Agency
from protocol.kinds import decode_body
from storage.campaignreads import AgencyCounts, CampaignRow

AGENCY_TYPES: Final = get_args(AgencyProfile.model_fields["type"].annotation)
INSTRUMENTS: Final = get_args(Policy.model_fields["instrument"].annotation)
POLICY_STATUSES: Final = get_args(PolicyStatus)
REQUEST_STATUSES: Final = get_args(RequestStatus)
ACTION_TYPES: Final = get_args(Action.model_fields["type"].annotation)
POLICY_DATES: Final = tuple(PolicyDates.model_fields)
SCOPE_CHARS: Final = 400


def campaign_message_ids() -> list[str]:
    """The message ids built from the campaign kinds' vocabularies (for babel)."""
    return [
        *(f"agency_type.{name}" for name in AGENCY_TYPES),
        *(f"instrument.{name}" for name in INSTRUMENTS),
        *(f"policy_status.{name}" for name in POLICY_STATUSES),
        *(f"request_status.{name}" for name in REQUEST_STATUSES),
        *(f"action_type.{name}" for name in ACTION_TYPES),
        *(f"policy.date.{name}" for name in POLICY_DATES),
    ]


def agency_path(record_id: bytes | str, lang: str) -> str:
    text = record_id if isinstance(record_id, str) else record_id.hex()
    return f"/agencies/{text}?lang={lang}"


def jurisdiction_place(t: Catalog, jurisdiction: Jurisdiction) -> str:
    """A jurisdiction in words: city, subdivision, country (``New York, New York, United
    States``; the subdivision's code where its name is not known)."""
    country, region = split_region(jurisdiction.code)
    named = region_name(t.lang, country, region) if region else None
    return place(t, jurisdiction.city, named, country)


@dataclass(frozen=True)
class AgencyLink:
    """An agency as another record names it: its name, and its page when the record
    points at one."""

    name: str
    path: str | None


def agency_link(agency: Agency, lang: str) -> AgencyLink:
    return AgencyLink(agency.name, agency_path(agency.record, lang) if agency.record else None)


@dataclass(frozen=True)
class AgencyItem:
    id: str
    path: str
    name: str
    type: str  # message id
    place: str
    counts: AgencyCounts


def agency_item(row: CampaignRow, counts: AgencyCounts | None, t: Catalog) -> AgencyItem:
    body = decode_body("agency", row.body)
    assert isinstance(body, AgencyProfile)
    return AgencyItem(
        row.id.hex(),
        agency_path(row.id, t.lang),
        body.name,
        f"agency_type.{body.type}",
        jurisdiction_place(t, body.jurisdiction),
        counts or AgencyCounts(),
    )


@dataclass(frozen=True)
class EvidenceItem:
    url: str
    archived_url: str | None
    sha256: str


@dataclass(frozen=True)
class PolicyItem:
    id: str
    place: str
    instrument: str  # a vocabulary word
    status: str  # a vocabulary word
    title: str | None
    scope: str | None
    dates: tuple[tuple[str, str], ...]  # (message id, ISO date)
    evidence: tuple[EvidenceItem, ...]
    agency: AgencyLink | None


def policy_item(row: CampaignRow, t: Catalog) -> PolicyItem:
    body = decode_body("policy", row.body)
    assert isinstance(body, Policy)
    dates = tuple(
        (f"policy.date.{name}", value)
        for name in POLICY_DATES
        if (value := getattr(body.dates, name))
    )
    scope = body.scope
    if scope and len(scope) > SCOPE_CHARS:
        scope = scope[:SCOPE_CHARS].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
    return PolicyItem(
        row.id.hex(),
        jurisdiction_place(t, body.jurisdiction),
        body.instrument,
        body.status,
        body.title,
        scope,
        dates,
        tuple(EvidenceItem(e.url, e.archived_url, e.sha256) for e in body.evidence),
        agency_link(body.agency, t.lang) if body.agency else None,
    )


@dataclass(frozen=True)
class TimelineEvent:
    on: str
    status: str
    note: str | None


@dataclass(frozen=True)
class ResponseItem:
    title: str | None
    received_on: str | None
    url: str | None
    archived_url: str | None
    sha256: str


@dataclass(frozen=True)
class RequestItem:
    id: str
    agency: AgencyLink
    law: str
    subject: str
    filed_on: str
    due_on: str | None
    status: str
    overdue_days: int | None  # days past due_on without an answer, else None
    answered: bool
    timeline: tuple[TimelineEvent, ...]  # oldest first
    responses: tuple[ResponseItem, ...]
    exemptions: tuple[str, ...]
    links: tuple[str, ...]


def days_between(start: str, end: str) -> int:
    return (datetime.date.fromisoformat(end) - datetime.date.fromisoformat(start)).days


def request_item(row: CampaignRow, today: str, t: Catalog) -> RequestItem:
    body = decode_body("records_request", row.body)
    assert isinstance(body, RecordsRequest)
    answered = body.status in ANSWERED_STATUSES
    overdue = None
    if body.due_on is not None and body.due_on < today and not answered:
        overdue = days_between(body.due_on, today)
    return RequestItem(
        row.id.hex(),
        agency_link(body.agency, t.lang),
        body.law,
        body.subject,
        body.filed_on,
        body.due_on,
        body.status,
        overdue,
        answered,
        tuple(
            TimelineEvent(e.on, e.status, e.note) for e in sorted(body.events, key=lambda e: e.on)
        ),
        tuple(
            ResponseItem(r.title, r.received_on, r.url, r.archived_url, r.sha256)
            for r in body.responses
        ),
        tuple(body.exemptions_cited),
        tuple(body.links),
    )


@dataclass(frozen=True)
class ActionItem:
    id: str
    type: str  # a vocabulary word
    title: str
    url: str
    target: AgencyLink
    place: str
    opens_on: str | None
    closes_on: str | None
    closes_in: int | None  # days left, when it has a closing date
    summary: str | None


def action_item(row: CampaignRow, today: str, t: Catalog) -> ActionItem:
    body = decode_body("action", row.body)
    assert isinstance(body, Action)
    return ActionItem(
        row.id.hex(),
        body.type,
        body.title,
        body.url,
        agency_link(body.target, t.lang),
        jurisdiction_place(t, body.jurisdiction),
        body.opens_on,
        body.closes_on,
        days_between(today, body.closes_on) if body.closes_on else None,
        body.summary,
    )
