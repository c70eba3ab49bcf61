"""The message ids the report pages build from names, for babel to extract.

The templates and code look most messages up by a literal id (``_("page.title")``,
``N_("status.bad")``), which babel's extractors find. Others they build from a name:
``field.<name>.label``, ``error.<name>``, ``country.<code>``... :func:`built_ids` lists
those, from the same tables the pages use, and :func:`extract` hands them to babel:
``babel.cfg`` maps this file to it, so ``pybabel extract`` writes every message the
pages can ask for into ``messages.pot``.
"""

from collections.abc import Iterator
from typing import IO, Any

from node.moderation.submissions import RECEIPT_STATUS, SUBMISSION_KINDS
from node.web.campaignview import campaign_message_ids
from node.web.filters import form_message_ids
from node.web.lists import list_message_ids
from node.web.pages import CATEGORIES, HINTED, TECHNOLOGIES
from node.web.policymap import STANDINGS
from node.web.recordpage import record_message_ids
from node.web.report import FIELD_ORDER, REFUSALS
from node.web.site import ERROR_TOPICS, OTHER_ERROR
from protocol.countries import COUNTRY_CODES


def built_ids() -> Iterator[str]:
    for name in FIELD_ORDER:
        if name != "kind":
            yield f"field.{name}.label"
        if not name.startswith("consent_"):
            yield f"error.{name}"
    yield "error.form"
    yield from (f"field.{name}.hint" for name in HINTED)
    yield from (f"kind.{kind}" for kind in SUBMISSION_KINDS)
    yield from (f"technology.{kind}" for kind in TECHNOLOGIES)
    yield from (f"category.{kind}" for kind in CATEGORIES)
    yield from (f"country.{code}" for code in sorted(COUNTRY_CODES))
    yield from (f"status.{word}" for word in dict.fromkeys(RECEIPT_STATUS.values()))
    yield from (f"{topic}.{part}" for topic in REFUSALS for part in ("title", "body"))
    yield from form_message_ids()
    yield from list_message_ids()
    yield from record_message_ids()
    yield from campaign_message_ids()
    yield from (f"policies.standing.{name}" for name in STANDINGS)
    yield from (f"policies.col.{name}" for name in STANDINGS)
    for topic in (*ERROR_TOPICS.values(), OTHER_ERROR):
        yield from (f"{topic}.title", f"{topic}.body")


def extract(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel's extraction method: the built ids, whatever the file holds."""
    for message_id in built_ids():
        yield 0, "_", message_id, []
