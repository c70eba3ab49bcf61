"""What the moderators' desk asks of the node, beyond the decisions of
:mod:`node.moderation.service`: the queue's facets, claims, notes sealed by the
desk, questions to the reporter and their sealed answers, duplicates and their
candidates (docs/api.md, "The moderators' desk").
"""

from typing import Final

# The triage fields a queue filters on (each repeatable), and those it counts.
QUEUE_FILTERS: Final = ("country", "city", "category", "technology")
QUEUE_FACETS: Final = ("kind", *QUEUE_FILTERS, "received_on")
MAX_QUESTION: Final = 2_000
MAX_ANSWER: Final = 10_000
MAX_BULK: Final = 500
MAX_NOTE_BYTES: Final = 64 * 1024
CANDIDATE_REASONS: Final = (
    "same_city",
    "same_category",
    "same_technology",
    "same_agency",
    "same_day",
    "near_date",
    "same_area",
    "neighbouring_area",
    "within_radius",
)
