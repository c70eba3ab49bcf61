"""Field types shared by the record kinds: dates, places, sources, ids."""

import datetime
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from protocol.countries import COUNTRY_CODES
from protocol.errors import KeyFormatError
from protocol.keys import parse_key_text

GEOHASH_ALPHABET = "0123456789bcdefghjkmnpqrstuvwxyz"
MAX_AREA_PRECISION = 6


class StrictModel(BaseModel):
    """Signed data: frozen, strict and closed, so nothing is dropped or coerced."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


def _country(value: str) -> str:
    if value not in COUNTRY_CODES:
        raise ValueError(f"{value[:8]!r} is not an ISO 3166-1 alpha-2 country code")
    return value


def _geohash(value: str) -> str:
    if not 1 <= len(value) <= MAX_AREA_PRECISION:
        raise ValueError(
            f"area must be a geohash of 1 to {MAX_AREA_PRECISION} characters "
            f"(a cell of about 1.2 km x 0.6 km at most), not {len(value)}"
        )
    if any(ch not in GEOHASH_ALPHABET for ch in value):
        raise ValueError("area must use the geohash alphabet 0-9 b-h j k m n p-z")
    return value


def _http_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/$.?#][^\s]*", value):
        raise ValueError("must be an http:// or https:// URL")
    return value


def _key_text(value: str) -> str:
    # One key, one text form: a non-canonical last character would be a second
    # spelling of the same key, and key texts are compared as strings.
    try:
        parse_key_text(value)
    except KeyFormatError as exc:
        raise ValueError(exc.detail) from exc
    return value


def _iso_date(value: str) -> str:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date in the form YYYY-MM-DD")
    try:
        datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value} is not a calendar date") from exc
    return value


Text = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]
CountryCode = Annotated[str, AfterValidator(_country)]
Geohash = Annotated[str, AfterValidator(_geohash)]
HttpUrl = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_http_url)]
IsoDate = Annotated[str, AfterValidator(_iso_date)]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
RecordIdHex = Sha256Hex
KeyText = Annotated[
    str,
    StringConstraints(pattern=r"^ed25519:[A-Za-z0-9_-]{43}$"),
    AfterValidator(_key_text),
]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class PartialDate(StrictModel):
    """A date known to a day, a month or a year; ``date`` is the first day it covers."""

    date: IsoDate
    precision: Literal["day", "month", "year"]

    @model_validator(mode="after")
    def _first_day_of_period(self) -> "PartialDate":
        # One spelling per period, so equal periods compare and group as equal.
        if self.precision == "month" and not self.date.endswith("-01"):
            raise ValueError("a date of month precision must be the first of the month")
        if self.precision == "year" and not self.date.endswith("-01-01"):
            raise ValueError("a date of year precision must be January 1")
        return self


class Source(StrictModel):
    url: HttpUrl
    archived_url: HttpUrl | None = None
    sha256: Sha256Hex | None = None


Sources = Annotated[list[Source], Field(max_length=50)]
Tags = Annotated[list[Tag], Field(max_length=32)]


TechnologyType = Literal["live_frt", "retrospective_frt", "mobile_app", "drone", "other"]


class Agency(StrictModel):
    """The agency a record is about: its name as given, and, since the campaign kinds,
    optionally the id of its ``agency`` record (docs/records.md)."""

    name: Text
    identifier: Text | None = None
    record: RecordIdHex | None = None
