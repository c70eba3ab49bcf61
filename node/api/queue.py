"""The moderators' queue's query parameters (``GET /api/v1/submissions``), read into a
:class:`storage.queue.QueueFilter`, each wrong one named in a 400."""

import datetime
import re
from collections.abc import Mapping
from typing import Final

from multidict import MultiMapping

from node.moderation.desk import QUEUE_FILTERS
from node.problems import BadParameter
from storage.queue import QueueFilter
from storage.submissions import STATUSES

QUEUE_PARAMETERS: Final = frozenset(
    {"status", "kind", "limit", "cursor", "sort", "received_from", "received_to", *QUEUE_FILTERS}
)
_MAX_VALUES: Final = 50
_MAX_TEXT: Final = 200
_DAY: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def queue_filter(query: MultiMapping[str]) -> QueueFilter:
    unknown = sorted(set(query) - QUEUE_PARAMETERS)
    if unknown:
        raise BadParameter(unknown[0], "not a parameter of this route")
    for name in QUEUE_PARAMETERS - set(QUEUE_FILTERS):
        if len(query.getall(name, [])) > 1:
            raise BadParameter(name, "give it at most once")
    status = query.get("status")
    if status is not None and status not in STATUSES:
        raise BadParameter("status", f"must be one of {', '.join(STATUSES)}")
    kind = query.get("kind")
    if kind is not None and kind not in ("incident", "deployment"):
        raise BadParameter("kind", "must be incident or deployment")
    sort = query.get("sort", "oldest")
    if sort not in ("oldest", "newest"):
        raise BadParameter("sort", "must be oldest or newest")
    triage: dict[str, list[str]] = {}
    for name in QUEUE_FILTERS:
        values = query.getall(name, [])
        if len(values) > _MAX_VALUES or any(not 0 < len(v) <= _MAX_TEXT for v in values):
            raise BadParameter(
                name, f"at most {_MAX_VALUES} values, each 1 to {_MAX_TEXT} characters"
            )
        if values:
            triage[name] = list(values)
    return QueueFilter(
        status=status,
        kind=kind,
        triage=triage,
        received_from=_day(query, "received_from"),
        received_to=_day(query, "received_to"),
        newest=sort == "newest",
    )


def _day(query: Mapping[str, str], name: str) -> str | None:
    text = query.get(name)
    if text is None:
        return None
    try:
        if not _DAY.match(text):
            raise ValueError(text)
        datetime.date.fromisoformat(text)
    except ValueError as exc:
        raise BadParameter(name, "must be a day in the form YYYY-MM-DD") from exc
    return text
