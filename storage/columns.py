"""The columns a record's body fills at insert time, so queries never decode bodies.

The campaign kinds (docs/records.md) reuse the columns whose meaning fits:
``country`` and ``region`` hold a jurisdiction's ISO code split in two (``US``,
``NY``), ``category`` a kind's type (an agency's or an action's type, a policy's
instrument, a request's law), ``agency`` the name of the organisation a record
is about or by, ``status`` its status and ``occurred_on`` its main date. Two
columns are theirs: ``agency_ref``, the id of the ``agency`` record a record
points at (an agency's parent), and ``due_on``, the day a request's answer is
due or an action closes.
"""

from typing import Any

from protocol.campaign import (
    Action,
    AgencyProfile,
    Jurisdiction,
    Policy,
    RecordsRequest,
    Vendor,
    law_jurisdiction,
    split_region,
)
from protocol.fields import Agency, StrictModel
from protocol.kinds import Deployment, Incident, Retraction

# In the order of the records table's query columns.
QUERY_COLUMNS = (
    "country",
    "region",
    "city",
    "category",
    "technology",
    "agency",
    "status",
    "occurred_on",
    "area",
    "lat_e7",
    "lon_e7",
    "supersedes",
    "retracts",
    "frt",
    "agency_ref",
    "due_on",
)
# The columns migration 2 added and filled; ``frt`` came with migration 8, ``agency_ref``
# and ``due_on`` with the campaign kinds (storage.campaign).
V2_QUERY_COLUMNS = QUERY_COLUMNS[:13]
CAMPAIGN_COLUMNS = ("agency_ref", "due_on")
_EMPTY: tuple[Any, ...] = (None,) * len(QUERY_COLUMNS)


def query_columns(content: StrictModel | None) -> tuple[Any, ...]:
    """Values for :data:`QUERY_COLUMNS` from a decoded body (all None for other kinds)."""
    values = _values(content)
    return tuple(values.get(column) for column in QUERY_COLUMNS) if values else _EMPTY


def _values(content: StrictModel | None) -> dict[str, Any]:
    supersedes = getattr(content, "supersedes", None)
    common = {"supersedes": bytes.fromhex(supersedes) if supersedes else None}
    if isinstance(content, Incident):
        return (
            common
            | _agency(content.agency)
            | {
                "country": content.country,
                "region": content.region,
                "city": content.city,
                "category": content.category,
                "technology": content.technology.type,
                "status": content.verification.status,
                "occurred_on": content.occurred_on.date,
                "area": content.area,
            }
        )
    if isinstance(content, Deployment):
        return common | {
            "country": content.country,
            "city": content.city,
            "agency": content.agency.name if content.agency else content.osm.get("operator"),
            "agency_ref": _ref(content.agency.record if content.agency else None),
            "status": content.status,
            "occurred_on": content.observed_on.date if content.observed_on else None,
            "lat_e7": content.lat_e7,
            "lon_e7": content.lon_e7,
            "frt": content.frt_capability.status,
        }
    if isinstance(content, Retraction):
        return {"retracts": bytes.fromhex(content.target)}
    if isinstance(content, AgencyProfile):
        return (
            common
            | _place(content.jurisdiction)
            | {
                "category": content.type,
                "agency": content.name,
                "agency_ref": _ref(content.parent),
            }
        )
    if isinstance(content, Vendor):
        return common | {"agency": content.name}
    if isinstance(content, Policy):
        dates = content.dates
        return (
            common
            | _place(content.jurisdiction)
            | _agency(content.agency)
            | {
                "category": content.instrument,
                "status": content.status,
                "occurred_on": dates.effective or dates.passed or dates.introduced,
            }
        )
    if isinstance(content, RecordsRequest):
        country, region = split_region(law_jurisdiction(content.law))
        return (
            common
            | _agency(content.agency)
            | {
                "country": country,
                "region": region,
                "category": content.law,
                "status": content.status,
                "occurred_on": content.filed_on,
                "due_on": content.due_on,
            }
        )
    if isinstance(content, Action):
        return (
            common
            | _place(content.jurisdiction)
            | _agency(content.target)
            | {
                "category": content.type,
                "occurred_on": content.opens_on,
                "due_on": content.closes_on,
            }
        )
    return {}


def _ref(record: str | None) -> bytes | None:
    return bytes.fromhex(record) if record else None


def _agency(agency: Agency | None) -> dict[str, Any]:
    if agency is None:
        return {}
    return {"agency": agency.name, "agency_ref": _ref(agency.record)}


def _place(jurisdiction: Jurisdiction) -> dict[str, Any]:
    country, region = split_region(jurisdiction.code)
    return {"country": country, "region": region, "city": jurisdiction.city}


def summary_text(content: StrictModel | None) -> str | None:
    """The text full-text search (``q``) covers: an incident's summary, and the words
    a person looks for in a campaign record."""
    if isinstance(content, Incident):
        return content.summary
    if isinstance(content, AgencyProfile | Vendor):
        return content.name
    if isinstance(content, Policy):
        return " ".join(filter(None, (content.title, content.scope)))
    if isinstance(content, RecordsRequest):
        return content.subject
    if isinstance(content, Action):
        return " ".join(filter(None, (content.title, content.summary)))
    return None
