"""One public incident or deployment as its page shows it: body, fate, versions, signer.

:func:`record_view` gathers, for a record id, everything the record page
(:mod:`node.web.recordpage`) renders: the decoded body (unless it was
withdrawn or erased), what became of it (a later version, a retraction and
its reason), its version history in both directions, the chapter that signed
it, and the signed bytes a visitor can check. Only records of the ``public``
audience are ever read: a record of another audience is "not found", exactly
like an id the node has never seen, so a page never reveals that one exists.
"""

import datetime
from dataclasses import dataclass, field
from typing import Final

from node.web.i18n import Catalog
from protocol.fields import PartialDate, StrictModel
from protocol.keys import key_text
from protocol.kinds import Deployment, Incident, NodeInfo, Retraction, decode_body
from storage.history import RecordHistory
from storage.stored import RecordReader, StoredRecord

# The page path of each kind a record page shows.
KIND_PATHS: Final = {"deployment": "deployments", "incident": "incidents"}
# How far a version chain is followed each way: a feed never holds such chains in
# practice, and a bound keeps a hostile one from making a page slow.
MAX_VERSIONS: Final = 50


@dataclass(frozen=True)
class Version:
    """One version of a record in its history."""

    id: str
    created_ms: int
    withdrawn: bool  # retracted or erased: its body is gone


@dataclass(frozen=True)
class Withdrawal:
    """Why a record was withdrawn: a retraction's reason and note, or a revoked key."""

    reason: str | None  # a Retraction reason; None when the retraction is not public
    note: str | None
    revoked: bool  # withdrawn because a steward revoked the key that signed it
    record_id: str
    created_ms: int | None


@dataclass(frozen=True)
class ChapterView:
    key: str
    name: str | None
    city: str | None
    country: str | None
    urls: tuple[str, ...]
    standing: str | None  # the stewards' latest decision: admit, suspend, revoke


@dataclass(frozen=True)
class RecordView:
    record: StoredRecord
    kind: str
    body: StrictModel | None
    superseded: bool
    withdrawal: Withdrawal | None
    erased: bool
    earlier: list[Version] = field(default_factory=list)  # oldest first
    later: list[Version] = field(default_factory=list)  # next first; the last is current
    chapter: ChapterView | None = None

    @property
    def id(self) -> str:
        return self.record.id.hex()

    @property
    def incident(self) -> Incident | None:
        return self.body if isinstance(self.body, Incident) else None

    @property
    def deployment(self) -> Deployment | None:
        return self.body if isinstance(self.body, Deployment) else None


def parse_record_id(text: str) -> bytes | None:
    """The 32 bytes a record id's 64 lowercase hex digits spell, or None."""
    if len(text) != 64 or text != text.lower():
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


async def public_record(records: RecordReader, record_id: bytes) -> StoredRecord | None:
    record = await records.get(record_id)
    if record is None or record.envelope.audience != "public":
        return None
    return record


async def record_view(
    records: RecordReader, history: RecordHistory, record_id: bytes, kind: str
) -> RecordView | None:
    """The page's view of public record ``record_id`` of ``kind``, or None (not found)."""
    record = await public_record(records, record_id)
    if record is None or record.envelope.kind != kind:
        return None
    fate = await history.fate(record_id)
    assert fate is not None
    body = decode_body(kind, record.body) if record.body is not None else None
    withdrawal = None
    if fate.retracted_by is not None:
        withdrawal = await _withdrawal(records, fate.retracted_by)
    origin = record.envelope.origin
    return RecordView(
        record=record,
        kind=kind,
        body=body,
        superseded=fate.superseded_by is not None,
        withdrawal=withdrawal,
        erased=record.body is None,
        earlier=await _earlier(records, body, origin, kind),
        later=await _later(records, history, record_id, origin, kind),
        chapter=await _chapter(history, origin),
    )


async def _withdrawal(records: RecordReader, by: bytes) -> Withdrawal:
    withdrawing = await public_record(records, by)
    if withdrawing is None:
        # A retraction kept from the public: the page says only that the record was withdrawn.
        return Withdrawal(None, None, False, by.hex(), None)
    created = withdrawing.envelope.created_ms
    if withdrawing.envelope.kind == "membership":
        return Withdrawal(None, None, True, by.hex(), created)
    if withdrawing.body is None:
        return Withdrawal(None, None, False, by.hex(), created)
    retraction = decode_body("retraction", withdrawing.body)
    assert isinstance(retraction, Retraction)
    return Withdrawal(retraction.reason, retraction.note, False, by.hex(), created)


async def _earlier(
    records: RecordReader, body: StrictModel | None, origin: bytes, kind: str
) -> list[Version]:
    """The versions this one replaces, oldest first, as far as their bodies name them."""
    found: list[Version] = []
    previous = getattr(body, "supersedes", None)
    while previous is not None and len(found) < MAX_VERSIONS:
        record = await public_record(records, bytes.fromhex(previous))
        if record is None or record.envelope.origin != origin or record.envelope.kind != kind:
            break
        found.append(Version(previous, record.envelope.created_ms, record.body is None))
        if record.body is None:
            break
        previous = getattr(decode_body(kind, record.body), "supersedes", None)
    return found[::-1]


async def _later(
    records: RecordReader, history: RecordHistory, record_id: bytes, origin: bytes, kind: str
) -> list[Version]:
    """The versions that replace this one, each the next one's predecessor."""
    found: list[Version] = []
    current = record_id
    while len(found) < MAX_VERSIONS:
        newer = None
        for candidate in await history.later_versions(current, origin):
            newer = await public_record(records, candidate)
            if newer is not None and newer.envelope.kind == kind:
                break
            newer = None
        if newer is None:
            break
        found.append(Version(newer.id.hex(), newer.envelope.created_ms, newer.body is None))
        current = newer.id
    return found


async def _chapter(history: RecordHistory, origin: bytes) -> ChapterView:
    signer = await history.signer(origin, "public")
    name, city, country = signer.member_name, signer.member_city, signer.member_country
    urls: tuple[str, ...] = ()
    if signer.node_body is not None:
        info = decode_body("node", signer.node_body)
        if isinstance(info, NodeInfo):
            name, city, country = info.name, info.city or city, info.country or country
            urls = tuple(info.urls)
    return ChapterView(key_text(origin), name, city, country, urls, signer.member_action)


def partial_date(value: PartialDate) -> str:
    """A date as precisely as it is known: 2025-03-14, 2025-03 or 2025."""
    return {"day": value.date, "month": value.date[:7], "year": value.date[:4]}[value.precision]


def place(t: Catalog, city: str | None, region: str | None, country: str) -> str:
    """A place in words, from the most to the least precise: city, region, country."""
    return ", ".join(part for part in (city, region, t(f"country.{country}")) if part)


def utc_time(created_ms: int) -> str:
    """A record's creation time, to the minute, in UTC."""
    moment = datetime.datetime.fromtimestamp(created_ms / 1000, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def coordinate(value_e7: int) -> str:
    """A latitude or longitude in degrees, as the body holds it (seven decimals)."""
    sign = "-" if value_e7 < 0 else ""
    whole, fraction = divmod(abs(value_e7), 10_000_000)
    return f"{sign}{whole}.{fraction:07d}"
