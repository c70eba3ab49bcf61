"""The columns a record's body fills at insert time, so queries never decode bodies."""

from typing import Any

from protocol.fields import StrictModel
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
)
# The columns migration 2 added and filled; ``frt`` came with migration 8.
V2_QUERY_COLUMNS = QUERY_COLUMNS[:13]
_EMPTY: tuple[Any, ...] = (None,) * len(QUERY_COLUMNS)


def query_columns(content: StrictModel | None) -> tuple[Any, ...]:
    """Values for :data:`QUERY_COLUMNS` from a decoded body (all None for other kinds)."""
    if isinstance(content, Incident):
        return (
            content.country,
            content.region,
            content.city,
            content.category,
            content.technology.type,
            content.agency.name if content.agency else None,
            content.verification.status,
            content.occurred_on.date,
            content.area,
            None,
            None,
            bytes.fromhex(content.supersedes) if content.supersedes else None,
            None,
            None,
        )
    if isinstance(content, Deployment):
        return (
            content.country,
            None,
            content.city,
            None,
            None,
            content.osm.get("operator"),
            content.status,
            content.observed_on.date if content.observed_on else None,
            None,
            content.lat_e7,
            content.lon_e7,
            bytes.fromhex(content.supersedes) if content.supersedes else None,
            None,
            content.frt_capability.status,
        )
    if isinstance(content, Retraction):
        return (*_EMPTY[:-2], bytes.fromhex(content.target), None)
    return _EMPTY


def summary_text(content: StrictModel | None) -> str | None:
    """The text full-text search covers: an incident's summary."""
    return content.summary if isinstance(content, Incident) else None
