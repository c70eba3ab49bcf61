"""The campaign record kinds: agencies, vendors, policies, records requests, actions.

They give a network a shared, signed state of play for pressing authorities:
who runs which system and bought it from whom, where facial recognition is
banned or governed, what public-records requests asked and how agencies
answered, and what a person can do now. Like the v1 kinds their schemas are
strict, frozen and closed; nodes that do not know them relay them unchanged.

Two rules are part of the schemas: a policy's status other than
``not_recorded`` needs evidence (a status is never inferred), and no record
names a person who files a request or supports an action (there is no field
for one, and a closed schema refuses any other).
"""

import datetime
import re
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from protocol.countries import COUNTRY_CODES
from protocol.fields import (
    Agency,
    HttpUrl,
    IsoDate,
    LongText,
    RecordIdHex,
    Sha256Hex,
    Sources,
    StrictModel,
    Tags,
    TechnologyType,
    Text,
)

_ISO_REGION: Final = re.compile(r"([A-Z]{2})(?:-([A-Z0-9]{1,3}))?")
_LAW: Final = re.compile(r"([A-Z]{2}(?:-[A-Z0-9]{1,3})?) (\S.*)")


def _iso_region(value: str) -> str:
    match = _ISO_REGION.fullmatch(value)
    if match is None or match.group(1) not in COUNTRY_CODES:
        raise ValueError(
            "must be an ISO 3166-1 country code (US) or an ISO 3166-2 subdivision code (US-NY)"
        )
    return value


def _law(value: str) -> str:
    match = _LAW.fullmatch(value)
    if match is None:
        raise ValueError("must be a jurisdiction code, a space and the law's name (US-NY FOIL)")
    _iso_region(match.group(1))
    return value


IsoRegion = Annotated[str, AfterValidator(_iso_region)]
OcdId = Annotated[
    str,
    StringConstraints(
        pattern=r"^ocd-division/country:[a-z]{2}(/[a-z_]+:[^/\s]+)*$", max_length=200
    ),
]
WikidataId = Annotated[str, StringConstraints(pattern=r"^Q[1-9][0-9]{0,11}$")]
LawName = Annotated[str, StringConstraints(max_length=80), AfterValidator(_law)]
Links = Annotated[list[HttpUrl], Field(max_length=20)]


def law_jurisdiction(law: str) -> str:
    """The ISO code a valid ``law`` starts with: ``US-NY`` for ``US-NY FOIL``."""
    return law.split(" ", 1)[0]


def split_region(code: str) -> tuple[str, str | None]:
    """An ISO code's country and subdivision: ``US-NY`` -> ``("US", "NY")``."""
    country, _, region = code.partition("-")
    return country, region or None


class Jurisdiction(StrictModel):
    """Where a body has authority: a country or subdivision by its ISO code, optionally
    a city by name, and the Open Civic Data division id where one exists."""

    code: IsoRegion
    city: Text | None = None
    ocd_id: OcdId | None = None


class AgencyProfile(StrictModel):
    """A police force or other public body (kind ``agency``)."""

    name: Text
    type: Literal["police", "sheriff", "transit", "school", "immigration", "federal", "other"]
    jurisdiction: Jurisdiction
    wikidata: WikidataId | None = None
    parent: RecordIdHex | None = None
    website: HttpUrl | None = None
    sources: Sources = Field(default_factory=list)
    supersedes: RecordIdHex | None = None


class Product(StrictModel):
    name: Text
    technology: TechnologyType
    wikidata: WikidataId | None = None


class Vendor(StrictModel):
    """A company or product line selling the technology (kind ``vendor``)."""

    name: Text
    wikidata: WikidataId | None = None
    website: HttpUrl | None = None
    products: Annotated[list[Product], Field(max_length=50)] = Field(default_factory=list)
    sources: Sources = Field(default_factory=list)
    supersedes: RecordIdHex | None = None


class Evidence(StrictModel):
    """A source a status rests on, with the hash of the document as it was read."""

    url: HttpUrl
    sha256: Sha256Hex
    archived_url: HttpUrl | None = None


class PolicyDates(StrictModel):
    introduced: IsoDate | None = None
    passed: IsoDate | None = None
    effective: IsoDate | None = None


PolicyStatus = Literal[
    "proposed",
    "in_committee",
    "passed",
    "in_force",
    "repealed",
    "expired",
    "rejected",
    "not_recorded",
]


class Policy(StrictModel):
    """The status of facial recognition in a jurisdiction or agency (kind ``policy``)."""

    jurisdiction: Jurisdiction
    agency: Agency | None = None
    instrument: Literal[
        "ban",
        "moratorium",
        "oversight_ordinance",
        "contract",
        "procurement",
        "budget_line",
        "pilot",
    ]
    status: PolicyStatus
    title: Text | None = None
    dates: PolicyDates = PolicyDates()
    scope: LongText | None = None
    evidence: Annotated[list[Evidence], Field(max_length=50)] = Field(default_factory=list)
    supersedes: RecordIdHex | None = None
    tags: Tags = Field(default_factory=list)

    @model_validator(mode="after")
    def _status_needs_evidence(self) -> "Policy":
        if self.status != "not_recorded" and not self.evidence:
            raise ValueError(
                f"a policy with status {self.status} needs evidence: "
                "a status is never inferred (use not_recorded without evidence)"
            )
        return self


# MuckRock's status words.
RequestStatus = Literal[
    "submitted",
    "acknowledged",
    "processing",
    "fix_required",
    "payment_required",
    "appealing",
    "in_litigation",
    "rejected",
    "no_documents",
    "partially_completed",
    "completed",
    "abandoned",
]
# The statuses that answer a request: one past its due date in any other is overdue.
ANSWERED_STATUSES: Final = frozenset(
    {"rejected", "no_documents", "partially_completed", "completed", "abandoned"}
)


class RequestEvent(StrictModel):
    """A dated change of a request's status."""

    on: IsoDate
    status: RequestStatus
    note: Text | None = None


class RequestResponse(StrictModel):
    """A document an agency released, by its hash."""

    sha256: Sha256Hex
    title: Text | None = None
    received_on: IsoDate | None = None
    url: HttpUrl | None = None
    archived_url: HttpUrl | None = None


class RecordsRequest(StrictModel):
    """A public-records / FOI / FOIL request (kind ``records_request``). The requester
    stays on the chapter's node: no field names them."""

    agency: Agency
    law: LawName
    filed_on: IsoDate
    subject: LongText
    status: RequestStatus
    due_on: IsoDate | None = None
    events: Annotated[list[RequestEvent], Field(max_length=200)] = Field(default_factory=list)
    exemptions_cited: Annotated[list[Text], Field(max_length=50)] = Field(default_factory=list)
    responses: Annotated[list[RequestResponse], Field(max_length=500)] = Field(default_factory=list)
    links: Links = Field(default_factory=list)
    supersedes: RecordIdHex | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> "RecordsRequest":
        if self.due_on is not None and self.due_on < self.filed_on:
            raise ValueError("due_on must not be before filed_on")
        if any(event.on < self.filed_on for event in self.events):
            raise ValueError("an event must not be dated before filed_on")
        return self


class Action(StrictModel):
    """Something the public can do (kind ``action``): a pointer with public metadata
    only; no supporter data, ever."""

    type: Literal["petition", "letter", "call", "public_comment", "hearing", "event"]
    title: Text
    target: Agency
    url: HttpUrl
    jurisdiction: Jurisdiction
    opens_on: IsoDate | None = None
    closes_on: IsoDate | None = None
    summary: LongText | None = None
    supersedes: RecordIdHex | None = None

    @model_validator(mode="after")
    def _closes_after_opening(self) -> "Action":
        if self.opens_on and self.closes_on and self.closes_on < self.opens_on:
            raise ValueError("closes_on must not be before opens_on")
        return self

    def is_open(self, today: datetime.date) -> bool:
        day = today.isoformat()
        return (self.opens_on or day) <= day <= (self.closes_on or day)


CAMPAIGN_MODELS: Final[dict[str, type[StrictModel]]] = {
    "agency": AgencyProfile,
    "vendor": Vendor,
    "policy": Policy,
    "records_request": RecordsRequest,
    "action": Action,
}
