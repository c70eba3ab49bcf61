"""A record drafted from a report in the desk (node/desk/drafts.py) and the text likeness
it suggests duplicates by (node/desk/likeness.py): pure functions, checked directly."""

from typing import Any

from node.desk.drafts import (
    REPORTER_TEXT,
    check,
    draft_from_form,
    fields_from_body,
    initial_fields,
    removed_words,
)
from node.desk.likeness import likeness, most_alike

SIGHTING: dict[str, Any] = {
    "id": "sub_aaaaaaaaaaaaaaaa",
    "kind": "deployment",
    "triage": {
        "occurred_on": "2026-10-03",
        "country": "GB",
        "city": "Cardiff",
        "agency": "South Wales Police",
        "technology": "live_frt",
    },
}
INCIDENT: dict[str, Any] = {
    "id": "sub_bbbbbbbbbbbbbbbb",
    "kind": "incident",
    "triage": {
        "occurred_on": "2026-10-03",
        "country": "GB",
        "city": "Cardiff",
        "technology": "live_frt",
        "category": "protest_surveillance",
    },
}
PRIVATE = {
    "what_happened": "Jane Doe was scanned at the station.",
    "place": "my flat above the bakery",
    "lat": 51.4816,
    "lon": -3.1791,
    "names": "Jane Doe",
    "email": "jane@example.org",
    "sources": ["https://example.org/post"],
}


def test_a_sighting_keeps_what_the_reporter_said_but_its_point_waits_for_a_moderator() -> None:
    draft = draft_from_form(SIGHTING, PRIVATE, {}, set())
    assert draft.fields["operator"] == "South Wales Police"
    assert draft.fields["frt"] == "suspected"
    unconfirmed = check(draft, point_confirmed=False)
    assert "point" in unconfirmed.problems
    assert unconfirmed.signed is None  # no point, no valid deployment
    reviewed = draft_from_form(SIGHTING, PRIVATE, {}, {"city", "operator", "sources"})
    confirmed = check(reviewed, point_confirmed=True)
    assert confirmed.problems == []
    assert confirmed.signed is not None
    assert confirmed.signed["lat_e7"] == 514816000
    assert confirmed.signed["osm"] == {"operator": "South Wales Police"}
    assert confirmed.signed["frt_capability"] == {"status": "suspected", "basis": ["visual"]}


def test_an_incident_never_carries_names_contacts_or_a_point() -> None:
    fields = initial_fields(INCIDENT, PRIVATE)
    body_text = " ".join(fields.values())
    for private in ("flat above the bakery", "jane@example.org", "51.4816"):
        assert private not in body_text
    assert len(fields["area"]) == 6  # the cell of the point, never the point
    draft = draft_from_form(INCIDENT, PRIVATE, {"area": "gcjszevk"}, set())
    assert "area" in check(draft, point_confirmed=False).problems


def test_the_reporters_words_stay_marked_until_rewritten_or_reviewed() -> None:
    draft = draft_from_form(INCIDENT, PRIVATE, {}, set())
    assert draft.unreviewed() == ["city", "summary", "sources"]
    rewritten = draft_from_form(
        INCIDENT, PRIVATE, {"summary": "A person was scanned at a station."}, {"city"}
    )
    assert rewritten.unreviewed() == ["sources"]
    emptied = draft_from_form(
        INCIDENT, PRIVATE, {"summary": "Scanned at a station.", "sources": ""}, {"city"}
    )
    assert emptied.unreviewed() == []
    signed = check(emptied, point_confirmed=False).signed
    assert signed is not None
    assert signed["summary"] == "Scanned at a station."
    assert signed["sources"] == []


def test_the_diff_strikes_what_left_the_reporters_text() -> None:
    runs = removed_words("Jane Doe was scanned at the station.", "Someone was scanned.")
    assert ("Jane Doe", True) in runs
    assert ("was", False) in runs
    assert all(removed for words, removed in runs if "station" in words)


def test_likeness_ranks_the_same_story_above_another() -> None:
    story = "A van with cameras filmed every face at the climate march outside the station."
    retold = "At the climate march a van with cameras filmed every face outside the station."
    other = "Cameras were installed on the new bridge last spring."
    assert likeness(story, story) == 1.0
    assert likeness(story, retold) > likeness(story, other)
    assert [i for i, _ in most_alike(story, [("b", other), ("a", retold)])] == ["a", "b"]
    assert likeness("", story) == 0.0


def test_a_correction_starts_from_the_record_as_published() -> None:
    for view in (INCIDENT, SIGHTING):
        first = check(draft_from_form(view, PRIVATE, {}, set(REPORTER_TEXT)), point_confirmed=True)
        assert first.signed is not None
        fields = fields_from_body(view["kind"], first.signed)
        again = check(draft_from_form(view, PRIVATE, fields, set()), point_confirmed=True)
        assert again.signed == first.signed
