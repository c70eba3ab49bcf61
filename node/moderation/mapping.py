"""What a report's clear (triage) fields become in a published record.

A sighting of cameras or vans is published as a ``deployment`` record, which
has no ``agency`` or ``technology`` field of its own (docs/records.md). What the
reporter gave is kept in the fields that do hold it:

- the agency becomes the OpenStreetMap ``operator`` tag in ``osm``, as
  exports show it (the ``operator`` column);
- a facial recognition technology (live, retrospective, a mobile app, a
  drone) becomes ``frt_capability`` ``suspected``, on the ``visual`` basis: a
  member of the public saw it, which is never more than a suspicion until
  documents confirm it (a correction then makes it ``confirmed``). ``other``,
  which is also what the form sends for "Not sure", leaves it ``unknown``.

Both the CLI's drafts (:mod:`node.cli.submissions.drafts`) and anything else
that builds a record from a report take these fields from here, so a sighting
keeps what its reporter said whichever way it is published.
"""

from typing import Any, Final

# The technologies a reporter may name that are facial recognition.
FRT_TECHNOLOGIES: Final = frozenset({"live_frt", "retrospective_frt", "mobile_app", "drone"})


def sighting_fields(triage: dict[str, Any]) -> dict[str, Any]:
    """The ``osm`` and ``frt_capability`` of a deployment record from a sighting's triage."""
    agency = triage.get("agency")
    osm = {"operator": agency} if isinstance(agency, str) and agency else {}
    if triage.get("technology") in FRT_TECHNOLOGIES:
        frt = {"status": "suspected", "basis": ["visual"]}
    else:
        frt = {"status": "unknown", "basis": []}
    return {"osm": osm, "frt_capability": frt}
