"""A record drafted from a report: the form the moderator edits, and the body it becomes.

A draft is a flat set of form fields (strings, as an HTML form sends them),
so the review page works without JavaScript: the draft starts from the
report's clear fields and what the reporter gave that may be published
(:func:`initial_fields`), the moderator edits it, and :func:`draft_body`
turns it into the body the node will sign, validated by the kind's own
schema (:func:`protocol.kinds.validate_body`) so the preview shows it exactly
as it will be signed.

Fields that start as the reporter's own words (an incident's summary, a
city, an agency, the sources) stay **unreviewed** until the moderator changes
them or ticks them as reviewed; a draft with an unreviewed field is not
published. A sighting's camera point is left out of the body until the
moderator confirms it (``point_confirmed``).
"""

import difflib
import json
from dataclasses import dataclass, field
from typing import Any, Final

from node.moderation.mapping import sighting_fields
from protocol import geohash
from protocol.errors import ProtocolError
from protocol.fields import MAX_AREA_PRECISION
from protocol.kinds import validate_body

# The fields of each kind's draft form, in the order the form shows them.
INCIDENT_FIELDS: Final = (
    "occurred_on",
    "country",
    "city",
    "area",
    "category",
    "technology",
    "agency",
    "summary",
    "verification",
    "sources",
)
DEPLOYMENT_FIELDS: Final = (
    "lat",
    "lon",
    "country",
    "city",
    "operator",
    "frt",
    "observed_on",
    "status",
    "sources",
)
# Free text the reporter typed: marked unreviewed while it is still theirs.
REPORTER_TEXT: Final = frozenset({"summary", "city", "agency", "operator", "sources"})


@dataclass
class Draft:
    """A draft's fields, what the reporter gave for each, and what the moderator reviewed."""

    kind: str
    fields: dict[str, str]
    original: dict[str, str]
    reviewed: set[str] = field(default_factory=set)

    def unreviewed(self) -> list[str]:
        """Fields still holding the reporter's words, neither edited nor ticked as reviewed."""
        return [
            name
            for name in self.fields
            if name in REPORTER_TEXT
            and name not in self.reviewed
            and self.fields[name].strip()
            and self.fields[name].strip() == self.original.get(name, "").strip()
        ]


def initial_fields(view: dict[str, Any], private: dict[str, Any] | None) -> dict[str, str]:
    """The draft a report starts as: its clear fields, and what of the private part may be
    published once reviewed (never the names, contacts, place words or exact time)."""
    triage = view["triage"]
    private = private or {}
    sources = "\n".join(str(url) for url in private.get("sources", []))
    lat, lon = private.get("lat"), private.get("lon")
    if view["kind"] == "deployment":
        sighting = sighting_fields(triage)
        return {
            "lat": "" if lat is None else str(lat),
            "lon": "" if lon is None else str(lon),
            "country": triage.get("country", ""),
            "city": triage.get("city", ""),
            "operator": sighting["osm"].get("operator", ""),
            "frt": sighting["frt_capability"]["status"],
            "observed_on": triage.get("occurred_on", ""),
            "status": "reported",
            "sources": sources,
        }
    area = "" if lat is None or lon is None else geohash.snap(lat, lon, MAX_AREA_PRECISION)
    return {
        "occurred_on": triage.get("occurred_on", ""),
        "country": triage.get("country", ""),
        "city": triage.get("city", ""),
        "area": area,
        "category": triage.get("category", "other"),
        "technology": triage.get("technology", "other"),
        "agency": triage.get("agency", ""),
        "summary": str(private.get("what_happened", "")),
        "verification": "unverified",
        "sources": sources,
    }


def fields_from_body(kind: str, body: dict[str, Any]) -> dict[str, str]:
    """The draft form of a published record's body: where a correction starts from."""
    sources = "\n".join(str(s.get("url", "")) for s in body.get("sources", []))
    if kind == "deployment":
        return {
            "lat": str(body["lat_e7"] / 10_000_000),
            "lon": str(body["lon_e7"] / 10_000_000),
            "country": body.get("country", ""),
            "city": body.get("city") or "",
            "operator": body.get("osm", {}).get("operator", ""),
            "frt": body.get("frt_capability", {}).get("status", "unknown"),
            "observed_on": (body.get("observed_on") or {}).get("date", ""),
            "status": body.get("status", "reported"),
            "sources": sources,
        }
    return {
        "occurred_on": body["occurred_on"]["date"],
        "country": body.get("country", ""),
        "city": body.get("city") or "",
        "area": body.get("area") or "",
        "category": body.get("category", "other"),
        "technology": body.get("technology", {}).get("type", "other"),
        "agency": (body.get("agency") or {}).get("name", ""),
        "summary": body.get("summary", ""),
        "verification": body.get("verification", {}).get("status", "unverified"),
        "sources": sources,
    }


def draft_from_form(
    view: dict[str, Any], private: dict[str, Any] | None, form: dict[str, str], reviewed: set[str]
) -> Draft:
    """The draft as the moderator left it: the form's fields over the initial ones."""
    start = initial_fields(view, private)
    names = DEPLOYMENT_FIELDS if view["kind"] == "deployment" else INCIDENT_FIELDS
    fields = {name: form.get(name, start[name]).replace("\r\n", "\n") for name in names}
    return Draft(view["kind"], fields, start, reviewed & REPORTER_TEXT)


def draft_body(draft: Draft, *, point_confirmed: bool) -> dict[str, Any]:
    """The record body the draft's fields make, before validation."""
    f = {name: value.strip() for name, value in draft.fields.items()}
    sources = [{"url": line.strip()} for line in f["sources"].splitlines() if line.strip()]
    body: dict[str, Any]
    if draft.kind == "deployment":
        osm = {"operator": f["operator"]} if f["operator"] else {}
        frt = {"status": f["frt"], "basis": ["visual"] if f["frt"] == "suspected" else []}
        body = {
            "country": f["country"].upper(),
            "city": f["city"] or None,
            "osm": osm,
            "frt_capability": frt,
            "observed_on": {"date": f["observed_on"], "precision": "day"}
            if f["observed_on"]
            else None,
            "status": f["status"],
            "sources": sources,
        }
        if point_confirmed:
            body = {"lat_e7": _e7(f["lat"]), "lon_e7": _e7(f["lon"]), **body}
    else:
        body = {
            "occurred_on": {"date": f["occurred_on"], "precision": "day"},
            "country": f["country"].upper(),
            "city": f["city"] or None,
            "area": f["area"] or None,
            "category": f["category"],
            "technology": {"type": f["technology"]},
            "agency": {"name": f["agency"]} if f["agency"] else None,
            "summary": f["summary"],
            "sources": sources,
            "verification": {"status": f["verification"]},
        }
    return {name: value for name, value in body.items() if value is not None}


def _e7(text: str) -> Any:
    try:
        return geohash.to_e7(float(text))
    except ValueError:
        return text  # left as it is, for the schema to name the field


@dataclass(frozen=True)
class Checked:
    """A draft's body as it will be signed, or why it cannot be published yet."""

    signed: dict[str, Any] | None  # the validated body, in the schema's order
    problems: list[str]

    def text(self) -> str:
        return "" if self.signed is None else json.dumps(self.signed, indent=2, ensure_ascii=False)


def check(draft: Draft, *, point_confirmed: bool) -> Checked:
    """Validate the draft's body against its kind's schema, and the desk's own rules."""
    problems: list[str] = []
    if draft.kind == "deployment" and not point_confirmed:
        problems.append("point")
    if draft.kind == "incident" and len(draft.fields["area"].strip()) > MAX_AREA_PRECISION:
        problems.append("area")
    body = draft_body(draft, point_confirmed=point_confirmed)
    try:
        content = validate_body(draft.kind, body)
    except ProtocolError as exc:
        problems.append(exc.detail)
        return Checked(None, problems)
    return Checked(content.model_dump(mode="json", exclude_none=True), problems)


def removed_words(reporter: str, published: str) -> list[tuple[str, bool]]:
    """The reporter's text in runs of words, each flagged True when the published text
    no longer holds it: the diff the review page shows of what was taken out."""
    theirs, ours = reporter.split(), published.split()
    runs: list[tuple[str, bool]] = []
    matcher = difflib.SequenceMatcher(a=theirs, b=ours, autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if i1 == i2:
            continue
        runs.append((" ".join(theirs[i1:i2]), tag != "equal"))
    return runs
