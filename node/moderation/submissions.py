"""Reports from the public: what a submission holds, how it is sealed, and how it is moderated.

A submission arrives from the ``/report`` form or ``POST /api/v1/submissions``
as the flat fields of :class:`SubmissionIn` (one name per form field). It is
split in two:

- the **triage** part: coarse fields a published record may carry anyway,
  stored in the clear so moderators can sort reports without a key;
- the **private** part: the narrative, the exact place and time, names,
  sources and contact details, sealed to every moderator key
  (:mod:`protocol.sealing`) before anything is written. The node never holds
  a key that opens it.

The reporter gets a receipt code; with it they learn the status and nothing else.

The moderators' decisions on a submission are carried out by
:class:`node.moderation.service.Moderation`.
"""

import datetime
import json
import re
import secrets
from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from node.problems import ApiError
from protocol.fields import CountryCode, HttpUrl, Text
from protocol.keys import b64url_encode
from protocol.kinds import IncidentCategory, TechnologyType
from protocol.sealing import ModeratorPublicKey, seal
from protocol.utc import utc_text
from protocol.validation import describe_validation_error
from storage.desk import Claim
from storage.submissions import Submission, SubmissionStore

SUBMISSION_KINDS: Final = ("incident", "deployment")
REJECT_REASONS: Final = ("spam", "duplicate", "out_of_scope", "insufficient", "unsafe", "other")
RETRACT_REASONS: Final = ("duplicate", "error", "safety", "consent_withdrawn", "legal")
# What a reporter sees for each status: no more than whether it was published.
RECEIPT_STATUS: Final = {
    "pending": "received",
    "needs_info": "needs_info",
    "published": "published",
    "rejected": "not_published",
    "duplicate": "not_published",
    "retracted": "withdrawn",
}
PRIVATE_FIELDS: Final = (
    "what_happened",
    "occurred_time",
    "place",
    "lat",
    "lon",
    "sources",
    "names",
    "email",
    "signal",
    "phone",
)
_RECEIPT_ALPHABET: Final = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U
_RECEIPT_GROUPS: Final = 5
_RECEIPT_GROUP_LENGTH: Final = 4  # 20 characters of 30 symbols: over 98 bits
RECEIPT_PATTERN: Final = re.compile(r"^[A-Z2-9]{4}(?:-[A-Z2-9]{4}){4}$")
SUBMISSION_ID_PATTERN: Final = r"sub_[a-z2-7]{16}"


class SubmissionError(ApiError):
    """A submission or a moderation request that cannot be taken; answered as problem+json
    by :func:`node.problems.problem_middleware`, and by the CLI as a refusal."""

    status = 422
    code = "invalid-submission"


class SubmissionsClosed(SubmissionError):
    status = 503
    code = "submissions-closed"


class SubmissionNotFound(SubmissionError):
    status = 404
    code = "not-found"


class ModerationConflict(SubmissionError):
    status = 409
    code = "moderation-conflict"


class SubmissionIn(BaseModel):
    """One report, as the form and the API send it. Blank strings count as not given."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    kind: Literal["incident", "deployment"]
    # Private: sealed to the moderators.
    what_happened: Annotated[str, Field(min_length=1, max_length=10_000)]
    occurred_time: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] | None = None
    place: Annotated[str, Field(min_length=1, max_length=2_000)]
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, strict=True)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, strict=True)] | None = None
    sources: Annotated[list[HttpUrl], Field(max_length=20)] = []
    names: Annotated[str, Field(max_length=2_000)] | None = None
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    signal: Annotated[str, Field(max_length=64)] | None = None
    phone: Annotated[str, Field(max_length=32, pattern=r"^\+?[0-9 ().-]{4,31}$")] | None = None
    # Triage: kept in the clear, all of it publishable.
    occurred_on: datetime.date
    country: CountryCode
    city: Text | None = None
    agency: Text | None = None
    technology: TechnologyType = "other"
    category: IncidentCategory | None = None
    consent_contact: bool = False
    consent_publish: bool = False

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("occurred_on", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError("must be a date in the form YYYY-MM-DD")
        return value

    @field_validator("occurred_on")
    @classmethod
    def _plausible_day(cls, value: datetime.date) -> datetime.date:
        tomorrow = datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=1)
        if value > tomorrow:
            raise ValueError("is in the future")
        if value.year < 1990:
            raise ValueError("is before 1990")
        return value

    @field_validator("category")
    @classmethod
    def _incidents_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        # ``kind`` is declared first, so it is checked (and known) by now.
        if value is not None and info.data.get("kind") == "deployment":
            raise ValueError("category is for incidents; a deployment sighting has none")
        return value

    @model_validator(mode="after")
    def _whole_point(self) -> "SubmissionIn":
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self

    def triage(self) -> dict[str, Any]:
        """The coarse part stored in the clear."""
        fields = {
            "kind": self.kind,
            "occurred_on": self.occurred_on.isoformat(),
            "country": self.country,
            "city": self.city,
            "agency": self.agency,
            "technology": self.technology,
            "category": self.category or ("other" if self.kind == "incident" else None),
            "consent_contact": self.consent_contact,
            "consent_publish": self.consent_publish,
        }
        return {key: value for key, value in fields.items() if value is not None}

    def private(self) -> dict[str, Any]:
        """The part sealed to the moderators."""
        data = self.model_dump(include=set(PRIVATE_FIELDS), exclude_none=True)
        if not data.get("sources"):
            data.pop("sources", None)
        return data


def parse_submission(payload: Any) -> SubmissionIn:
    """Validate a submission; the error names each wrong field without echoing its value."""
    if not isinstance(payload, dict):
        raise SubmissionError("a submission must be a JSON object")
    try:
        return SubmissionIn.model_validate(payload)
    except ValidationError as exc:
        raise SubmissionError(
            f"the submission is invalid: {describe_validation_error(exc)}"
        ) from exc


def field_errors(payload: dict[str, Any]) -> dict[str, str]:
    """{field: message} for each wrong field (the form shows them beside the fields)."""
    try:
        SubmissionIn.model_validate(payload)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors(include_url=False, include_input=False):
            field = str(error["loc"][0]) if error["loc"] else ""
            errors.setdefault(field, error["msg"])
        return errors
    return {}


def unfinished_fields(body: dict[str, Any]) -> list[str]:
    """The fields of a record body still marked ``TODO`` (a draft not yet edited)."""
    return sorted(
        name
        for name, value in body.items()
        if isinstance(value, str) and value.lstrip().upper().startswith("TODO")
    )


def new_receipt() -> str:
    """A receipt code such as ``K7QM-2XPA-9HTC-WRFD-3MNB``: easy to copy, hard to guess."""
    symbols = "".join(
        secrets.choice(_RECEIPT_ALPHABET) for _ in range(_RECEIPT_GROUPS * _RECEIPT_GROUP_LENGTH)
    )
    step = _RECEIPT_GROUP_LENGTH
    return "-".join(symbols[i : i + step] for i in range(0, len(symbols), step))


def normalize_receipt(text: str) -> str | None:
    """The canonical form of a receipt code as a person may type it, None if it is not one."""
    compact = re.sub(r"[\s-]", "", text.upper())[:64]
    if len(compact) != _RECEIPT_GROUPS * _RECEIPT_GROUP_LENGTH:
        return None
    step = _RECEIPT_GROUP_LENGTH
    code = "-".join(compact[i : i + step] for i in range(0, len(compact), step))
    return code if RECEIPT_PATTERN.match(code) else None


def new_submission_id() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "sub_" + "".join(secrets.choice(alphabet) for _ in range(16))


async def accept(
    store: SubmissionStore, submission: SubmissionIn, clock: Callable[[], int]
) -> tuple[str, str]:
    """Seal and store a validated submission: (its id, the reporter's receipt code)."""
    submission_id, receipt = new_submission_id(), new_receipt()
    sealed, key_ids = await seal_private(store, submission.private(), submission_id)
    await store.add(
        submission_id,
        receipt,
        kind=submission.kind,
        received_on=utc_text(clock(), "date"),
        triage=submission.triage(),
        sealed=sealed,
        key_ids=key_ids,
    )
    return submission_id, receipt


async def seal_private(
    store: SubmissionStore, private: dict[str, Any], context: str
) -> tuple[bytes, list[str]]:
    """What a reporter sent privately (a report's private part, an answer), sealed to every
    moderator key the node holds now, bound to ``context``: (the box, its key ids)."""
    keys = [ModeratorPublicKey.parse(key.public) for key in await store.keys()]
    if not keys:
        raise SubmissionsClosed(
            "this node takes no reports yet: it has no moderator keys (see banscan moderators add)"
        )
    plaintext = json.dumps(private, ensure_ascii=False).encode("utf-8")
    return seal(plaintext, keys, context.encode("ascii")), [key.key_id for key in keys]


def submission_view(
    submission: Submission, *, with_sealed: bool, claim: Claim | None = None
) -> dict[str, Any]:
    """A submission as the moderators' API shows it: the private part only ever as a box,
    with the live claim on it if any."""
    view: dict[str, Any] = {
        "id": submission.id,
        "kind": submission.kind,
        "status": submission.status,
        "received_on": submission.received_on,
        "triage": submission.triage,
        "decided_ms": submission.decided_ms,
        "record_id": None if submission.record_id is None else submission.record_id.hex(),
        "reason": submission.reason,
        "purged": submission.purged_ms is not None,
        "key_ids": submission.key_ids,
        "claim": None if claim is None else claim_view(claim),
        "duplicate_of": submission.duplicate_of,
    }
    if with_sealed:
        view["sealed"] = None if submission.sealed is None else b64url_encode(submission.sealed)
    return view


def claim_view(claim: Claim) -> dict[str, Any]:
    return {"holder": claim.holder, "since_ms": claim.since_ms, "expires_ms": claim.expires_ms}
