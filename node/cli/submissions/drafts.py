"""Record bodies from submissions, built on the moderator's side once the private part
is opened with their key: never from the narrative as it is."""

import json
from collections.abc import Sequence
from typing import Any, Final

from node.cli.common import CommandError
from node.moderation.mapping import sighting_fields
from protocol import geohash
from protocol.errors import ProtocolError
from protocol.fields import MAX_AREA_PRECISION
from protocol.keys import b64url_decode
from protocol.sealing import ModeratorKey, SealingError

# A draft's summary is the reporter's narrative as it is: marked, so that publishing the
# draft is refused until the moderator has rewritten it.
DRAFT_SUMMARY_MARK: Final = "TODO: rewrite before publishing; the reporter's own words follow. "


def draft_body(
    view: dict[str, Any], private: dict[str, Any], *, precision: int = MAX_AREA_PRECISION
) -> dict[str, Any]:
    """A proposed record body for a submission, for the moderator to redact and publish.

    An incident's summary is the reporter's narrative as it is, after
    :data:`DRAFT_SUMMARY_MARK`: it must be rewritten before anything is
    published. An incident's point becomes the geohash cell holding it,
    ``precision`` characters long (at most 6); a deployment keeps its point
    (cameras are public), or a TODO when none was given, and what the reporter said of
    its agency and technology (:func:`node.moderation.mapping.sighting_fields`).
    """
    if not 1 <= precision <= MAX_AREA_PRECISION:
        raise CommandError(f"--precision must be from 1 to {MAX_AREA_PRECISION}")
    triage = view["triage"]
    sources = [{"url": url} for url in private.get("sources", [])]
    lat, lon = private.get("lat"), private.get("lon")
    point = None if lat is None or lon is None else (geohash.to_e7(lat), geohash.to_e7(lon))
    body: dict[str, Any]
    if view["kind"] == "deployment":
        todo = "TODO: the report gave no point; geocode its place to 1e-7 degrees"
        body = {
            "lat_e7": todo if point is None else point[0],
            "lon_e7": todo if point is None else point[1],
            "country": triage["country"],
            "city": triage.get("city"),
            **sighting_fields(triage),
            "observed_on": {"date": triage["occurred_on"], "precision": "day"},
            "status": "reported",
            "sources": sources,
        }
    else:
        agency = triage.get("agency")
        body = {
            "occurred_on": {"date": triage["occurred_on"], "precision": "day"},
            "country": triage["country"],
            "city": triage.get("city"),
            "area": None if lat is None or lon is None else geohash.snap(lat, lon, precision),
            "category": triage.get("category", "other"),
            "technology": {"type": triage.get("technology", "other")},
            "agency": None if agency is None else {"name": agency},
            "summary": DRAFT_SUMMARY_MARK + private.get("what_happened", ""),
            "sources": sources,
            "verification": {"status": "unverified"},
        }
    return {name: value for name, value in body.items() if value is not None}


def redacted_body(
    view: dict[str, Any],
    private: dict[str, Any],
    *,
    precision: int,
    summary: str | None,
    omit: Sequence[str],
    verification: str | None,
    include_sources: bool = False,
) -> dict[str, Any]:
    """The body ``publish`` sends without ``--body``: the draft, with the moderator's summary.

    Sources stay out unless the moderator has checked them (``include_sources``):
    a link can be the reporter's own post.
    """
    body = draft_body(view, private, precision=precision)
    if not include_sources:
        body.pop("sources", None)
    if view["kind"] == "incident":
        if not summary:
            raise CommandError(
                f"{view['id']} is an incident: give --summary (the reporter's narrative is "
                "never published as it is), or publish an edited draft with --body"
            )
        body["summary"] = summary
        if verification is not None:
            body["verification"] = {"status": verification}
    elif isinstance(body["lat_e7"], str):
        raise CommandError(
            f"{view['id']} is a deployment sighting with no point: write a draft with "
            "banscan submissions show --draft, geocode its place, and publish it with --body"
        )
    for field in omit:
        body.pop(field, None)
        if field == "agency" and isinstance(body.get("osm"), dict):
            body["osm"].pop("operator", None)  # a sighting's agency is its operator tag
    return body


def open_private(view: dict[str, Any], key: ModeratorKey) -> dict[str, Any] | None:
    """The private part of a submission view, opened with the moderator's key; None if purged."""
    sealed = view.get("sealed")
    if sealed is None:
        return None
    try:
        plaintext = key.open(b64url_decode(sealed), view["id"].encode("ascii"))
    except (SealingError, ProtocolError, ValueError) as exc:
        reason = exc.detail if isinstance(exc, ProtocolError) else str(exc)
        raise CommandError(
            f"cannot open {view['id']} with key {key.public.key_id}: {reason} "
            f"(it is sealed to {', '.join(view.get('key_ids', [])) or 'no key'})"
        ) from exc
    private: dict[str, Any] = json.loads(plaintext)
    return private
